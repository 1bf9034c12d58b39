"""One way to find an Uku topic or field by name: map-fields, run-monthly and doctor agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from trigon_sync.errors import ConfigError, UsageError
from trigon_sync.monthly.plan import resolve_targets
from trigon_sync.schedule.rules import ScheduleRule
from trigon_sync.settings.config import Config, SummarySettings, UkuSettings
from trigon_sync.settings.naming import find, label_key
from trigon_sync.uku.field_mapping import Status, mapping_rows, resolve_target, resolve_topic
from trigon_sync.uku.models import CustomField, Topic

SALES = CustomField(11, "Sales invoice created", "number", "task")
TOPICS = [Topic(1, "Raamatupidamine"), Topic(2, "Bookkeeping")]


def config(topic: str | int, target: str | int) -> Config:
    return Config(
        path=Path("/home/x/config.toml"),
        exists=True,
        uku=UkuSettings(company="c-1"),
        summary=SummarySettings(
            task_title="Summary {period}",
            topic=topic,
            first_import_date=dt.date(2024, 10, 1),
            schedule=ScheduleRule("last_calendar_day"),
        ),
        fields={"sales_invoices_created": target},
    )


def test_the_rule_folds_case_and_whitespace_and_normalises_unicode() -> None:
    """Outer whitespace dropped, inner runs are one space, case folded, NFC: one key."""
    assert label_key("  Müügiarve   LOODUD ") == label_key("müügiarve loodud")
    assert label_key("Mu\u0308u\u0308giarve") == label_key("Müügiarve")
    assert label_key("Sales invoice") != label_key("Sales invoices")


@pytest.mark.parametrize("written", ["  sales   INVOICE created ", 11, "11"])
def test_map_fields_and_run_monthly_find_the_same_field(written: str | int) -> None:
    """A spelling map-fields accepts is one run-monthly (and so doctor) accepts too."""
    found, _ = resolve_target(str(written), [SALES])
    assert found == SALES
    targets = resolve_targets(config("  bookkeeping ", written), TOPICS, [SALES])
    assert [(t.field_id, t.field_name) for t in targets.fields] == [(11, SALES.name)]
    assert targets.topic_id == 2
    [row] = [r for r in mapping_rows({"sales_invoices_created": written}, [SALES]) if r.target]
    assert row.status is Status.OK


def test_two_fields_with_one_name_are_an_error_listing_their_ids_everywhere() -> None:
    """Names equal under the rule: map-fields, run-monthly and the mapping table all refuse."""
    twin = replace(SALES, id=12, name="SALES invoice  created")
    with pytest.raises(UsageError, match=r"ids 11, 12"):
        resolve_target("Sales invoice created", [SALES, twin])
    with pytest.raises(ConfigError) as caught:
        resolve_targets(config("Bookkeeping", "Sales invoice created"), TOPICS, [SALES, twin])
    assert "ids 11, 12" in caught.value.problems[0].message
    rows = mapping_rows({"sales_invoices_created": "Sales invoice created"}, [SALES, twin])
    assert [r.status for r in rows if r.target] == [Status.AMBIGUOUS]
    assert find(12, [SALES, twin]).item == twin  # the id is the way out


def test_two_topics_with_one_name_are_an_error_listing_their_ids_everywhere() -> None:
    """The topic follows the same rule in map-fields and run-monthly."""
    topics = [*TOPICS, Topic(9, " bookkeeping")]
    with pytest.raises(UsageError, match=r"ids 2, 9"):
        resolve_topic("Bookkeeping", topics)
    with pytest.raises(ConfigError) as caught:
        resolve_targets(config("Bookkeeping", 11), topics, [SALES])
    assert [p.key for p in caught.value.problems] == ["summary.topic"]
    assert "ids 2, 9" in caught.value.problems[0].message
    assert resolve_targets(config(9, 11), topics, [SALES]).topic_id == 9
