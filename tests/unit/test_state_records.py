"""The typed records of state.toml: read once at load, written back without a loss."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from trigon_sync.errors import StateError
from trigon_sync.records import periods as period_record
from trigon_sync.records.tables import Periods, RunRecord, StagedImport
from trigon_sync.store import paths
from trigon_sync.store.state import load_state, locked_state

# A state.toml as trigon-sync writes it after a year of use: an open period with its
# topic, two completed ones (one hand-broken), a key from a newer version, the history of
# several commands and a staged import.
WRITTEN = """\
schema_version = 1
last_period_end = 2024-10-30
last_period = "2024-10"

[staged_import]
version = 1
register_checked = true
staged_at = "2024-11-02T10:00:00+02:00"

[[staged_import.rows]]
trigon_id = "f9"
name = "Uus Klient OÜ"
registration_code = "10000033"
action = "create"

[journal]
period = "2024-11"
import_day = 2024-11-30
window_start = 2024-10-31
window_end = 2024-11-29
started_at = "2024-11-30T00:30:00+02:00"
topic_id = 7
from_a_newer_version = "kept"

[journal.completed.2024-09]
import_day = 2024-09-30
window_start = 2024-08-31
window_end = 2024-09-29
completed_at = "2024-09-30T00:41:00+03:00"
clients = 40
tasks_created = 40
tasks_updated = 0

[journal.completed.2024-10]
import_day = "not a date"
completed_at = "2024-10-31T00:40:00+02:00"

[[history]]
at = "2024-10-31T00:40:00+02:00"
command = "run-monthly"
result = "partial"
periods = ["2024-10"]
complete = []
clients_failed = 2
failures = [{ firm = "f2", name = "Beeta AS", reason = "no View permission" }, "f3"]

[[history]]
at = "2024-11-02T10:05:00+02:00"
command = "confirm"
result = "ok"
created = 1

[[history]]
at = 5
"""


@pytest.fixture
def written() -> None:
    paths.ensure_home()
    paths.state_file().write_text(WRITTEN, encoding="utf-8")


def test_a_load_and_save_writes_back_every_key(written: None) -> None:
    """Nothing is lost: known, unknown and unreadable entries all survive a save (the
    run history, odd record included, moved into the records database as it was)."""
    with locked_state() as session:
        session.save()
    again = tomllib.loads(paths.state_file().read_text(encoding="utf-8"))
    before = tomllib.loads(WRITTEN)
    # the database made by the first save is named in it (records_db: never begun again)
    assert again == {
        **{k: v for k, v in before.items() if k != "history"},
        "records_database": True,
    }
    assert [r.to_document() for r in load_state().history] == before["history"]


def test_the_tables_are_read_into_records(written: None) -> None:
    state = load_state()
    opened = state.journal.require_open()
    assert opened is not None
    assert (opened.run.period, opened.run.window_end, opened.topic_id) == (
        "2024-11",
        dt.date(2024, 11, 29),
        7,
    )
    assert list(state.journal.completed) == ["2024-09"]  # 2024-10 is unreadable, kept aside
    assert state.journal.completed["2024-09"].totals["tasks_created"] == 40
    assert state.staged_import is not None
    assert [row.trigon_id for row in state.staged_import.plan.rows] == ["f9"]
    monthly, confirm, odd = state.history
    assert monthly.is_monthly and not confirm.is_monthly
    assert odd.at_time is None and not odd.is_monthly  # shown, never decided on
    assert [(f.firm, f.who, f.reason) for f in monthly.failures] == [
        ("f2", "Beeta AS", "no View permission"),
        ("f3", "f3", "no reason recorded"),
    ]


def test_a_corrupt_open_period_is_reported_when_it_is_needed() -> None:
    """An open period without its window loads (status still works) and is in progress,
    but whoever needs its window gets a StateError naming what is missing."""
    journal = Periods.from_document({"period": "2024-11", "import_day": dt.date(2024, 11, 30)})
    assert journal.in_progress and journal.open is None
    assert journal.open_label == "2024-11"
    with pytest.raises(StateError, match="'window_start' is missing"):
        journal.require_open()
    assert journal.to_document() == {"period": "2024-11", "import_day": dt.date(2024, 11, 30)}


def test_a_day_in_state_is_a_toml_date_wherever_it_is_read() -> None:
    """Quoted text where state.toml holds a day is a hand edit gone wrong: the open period's
    window is refused as the last counted day and a link's date are (it was read as a date),
    and the file is kept as it was."""
    doc = {
        "period": "2024-11",
        "import_day": dt.date(2024, 11, 30),
        "window_start": "2024-10-31",
        "window_end": dt.date(2024, 11, 29),
    }
    journal = Periods.from_document(doc)
    assert journal.open is None
    with pytest.raises(StateError, match="window_start is not a date"):
        journal.require_open()
    assert journal.to_document() == doc


def test_a_corrupt_completed_period_is_named_when_it_is_asked_for(written: None) -> None:
    """`--rerun 2024-10` on a broken record says it is corrupt, not that it never ran."""
    state = load_state()
    with pytest.raises(StateError, match=r"\[journal.completed.2024-10\] is corrupt"):
        state.journal.require_completed("2024-10")
    assert state.journal.require_completed("2024-08") is None
    assert period_record.completed_periods(state) == ["2024-09", "2024-10"]


def test_an_unusable_staged_plan_loads_and_fails_only_where_the_plan_is_needed() -> None:
    doc = {"version": 99, "rows": [], "staged_at": "2024-11-02T10:00:00+02:00"}
    staged = StagedImport.from_document(doc)
    with pytest.raises(StateError, match="unknown plan version 99") as caught:
        _ = staged.plan
    assert caught.value.hint is not None and "import-clients" in caught.value.hint
    assert staged.to_document() == doc


@pytest.mark.parametrize(
    ("command", "monthly", "rerun"),
    [
        ("run-monthly", True, False),
        ("run-monthly --rerun", True, True),
        ("run-monthly-helper", False, False),
        ("confirm", False, False),
    ],
)
def test_one_rule_says_which_records_are_monthly_runs(
    command: str, monthly: bool, rerun: bool
) -> None:
    record = RunRecord("2024-11-30T00:30:00+02:00", command, "ok")
    assert (record.is_monthly, record.is_rerun) == (monthly, rerun)


def test_a_record_time_without_a_zone_is_unreadable() -> None:
    assert RunRecord("2024-11-30T00:30", "run-monthly", "ok").at_time is None
    assert RunRecord("garbage", "run-monthly", "ok").at_time is None
    assert RunRecord("2024-11-30T00:30:00+02:00", "x", "ok").at_time == dt.datetime(
        2024, 11, 30, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))
    )
