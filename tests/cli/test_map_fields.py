"""`map-fields`: the field mapping and summary settings, checked against the sandbox's Uku."""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from trigon_sync.cli import output
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_UKU_KEY,
    Running,
    SandboxWorld,
    generate_seed,
    run_sandbox,
)
from trigon_sync.settings import fields
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config
from trigon_sync.store.secrets import UKU_API_KEY, Secret, open_store
from trigon_sync.store.state import locked_state

Invoke = Callable[..., Result]
WriteConfig = Callable[[str], Path]
# Seeded Uku task fields: the 14 English labels get ids 10..23; "Notes" (text) is 24.
PAYMENT_CREATED, PAYMENT_UPDATED, SALES_CREATED, NOTES = 10, 11, 14, 24


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(5, seed=2)


@pytest.fixture(scope="module")
def sandbox(seed: dict[str, Any]) -> Iterator[Running]:
    """One Uku for the module: map-fields only reads from it."""
    with run_sandbox(SandboxWorld(seed)) as running:
        yield running


@pytest.fixture
def base_config(sandbox: Running) -> str:
    return (
        '[trigon]\nemail = "admin@firm.ee"\n\n'
        f'[uku]\nbase_url = "{sandbox.uku_url}"\ncompany = "{SANDBOX_COMPANY}"\n\n'
        '[register]\nfile = "register.zip"\n'
    )


@pytest.fixture
def uku(sandbox: Running, base_config: str, write_config: WriteConfig) -> Running:
    """config.toml pointing at the sandbox's Uku, with its API key in the test keyring."""
    write_config(base_config)
    open_store("keyring").set(UKU_API_KEY, Secret(SANDBOX_UKU_KEY))
    return sandbox


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 200-column console, so table cells do not wrap in the captured output."""
    monkeypatch.setattr(output.stdout, "width", 200)


def raw_config() -> dict[str, Any]:
    return tomllib.loads(paths.config_file().read_text(encoding="utf-8"))


def flat(text: str) -> str:
    """Output with Typer's error box and line wrapping removed."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def test_show_without_uku_lists_the_14_fields_in_both_languages(cli: Invoke, wide: None) -> None:
    """--show works offline: every key with its English and Estonian label, Uku not checked."""
    result = cli("map-fields", "--show")
    assert result.exit_code == 0, result.output
    for trigon_field in fields.FIELDS:
        assert trigon_field.key in result.stdout
        assert trigon_field.label_en in result.stdout
        assert trigon_field.label_et in result.stdout
    assert "Uku is not connected" in result.stdout
    assert "Still needed before `trigon-sync run-monthly`" in flat(result.stdout)


def test_show_json_beside_uku_fields(cli: Invoke, uku: Running) -> None:
    """--show --json: 14 fields with a status; Uku's task fields and whether they hold a count."""
    result = cli("map-fields", "--show", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [f["key"] for f in doc["fields"]] == list(fields.KEYS)
    assert {f["status"] for f in doc["fields"]} == {"unmapped"}
    by_name = {f["name"]: f for f in doc["uku_fields"]}
    assert by_name["Sales invoice created"] == {
        "id": SALES_CREATED,
        "name": "Sales invoice created",
        "type": "number",
        "holds_count": True,
    }
    assert by_name["Notes"]["holds_count"] is False
    assert doc["next_import"] is None
    assert "fields" in doc["missing"]


def test_set_by_name_and_by_id_keeps_every_other_key(cli: Invoke, uku: Running) -> None:
    """A name is stored as Uku spells it, an id as a number; other sections are untouched."""
    before = raw_config()
    result = cli(
        "map-fields",
        "--set",
        "sales_invoices_created=sales INVOICE created",
        "--set",
        f"payments_created={PAYMENT_CREATED}",
    )
    assert result.exit_code == 0, result.output
    after = raw_config()
    assert after["fields"] == {
        "payments_created": PAYMENT_CREATED,
        "sales_invoices_created": "Sales invoice created",
    }
    assert {k: v for k, v in after.items() if k != "fields"} == before
    assert "Saved to" in result.stdout


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("sales_invoice_created=Sales invoice created", "did you mean 'sales_invoices_created'"),
        ("payments_created=Notes", "cannot hold a count"),
        ("payments_created=Payments made", "Uku has no task custom field 'Payments made'"),
        (f"payments_updated={PAYMENT_CREATED}", "both map to the Uku field 'Payment created'"),
        ("payments_created", "is not KEY=UKU_FIELD"),
    ],
)
def test_bad_mappings_are_one_line_and_write_nothing(
    cli: Invoke,
    uku: Running,
    write_config: WriteConfig,
    base_config: str,
    assignment: str,
    message: str,
) -> None:
    """Unknown key, text field, unknown field, two counts in one field: exit 2, file unchanged."""
    write_config(base_config + '\n[fields]\npayments_created = "Payment created"\n')
    before = paths.config_file().read_bytes()
    result = cli("map-fields", "--set", assignment)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert paths.config_file().read_bytes() == before


def test_unset_stops_importing_a_field(
    cli: Invoke, uku: Running, write_config: WriteConfig, base_config: str
) -> None:
    """--unset removes one mapping and keeps the rest."""
    write_config(
        base_config + f"\n[fields]\npayments_created = {PAYMENT_CREATED}\n"
        f"payments_updated = {PAYMENT_UPDATED}\n"
    )
    result = cli("map-fields", "--unset", "payments_created")
    assert result.exit_code == 0, result.output
    assert raw_config()["fields"] == {"payments_updated": PAYMENT_UPDATED}


def test_set_and_unset_of_the_same_key_is_refused(cli: Invoke, uku: Running) -> None:
    """Asking to set and unset one key at once is a usage error."""
    result = cli("map-fields", "--set", "payments_created=10", "--unset", "payments_created")
    assert result.exit_code == ExitCode.USAGE
    assert "both --set and --unset" in result.stderr


def test_topic_must_exist_in_uku(cli: Invoke, uku: Running) -> None:
    """--topic by name or id is written; an unknown topic is refused and names the real ones."""
    assert cli("map-fields", "--topic", "bookkeeping").exit_code == 0
    assert raw_config()["summary"]["topic"] == "Bookkeeping"
    assert cli("map-fields", "--topic", "2").exit_code == 0
    assert raw_config()["summary"]["topic"] == 2
    before = paths.config_file().read_bytes()
    result = cli("map-fields", "--topic", "Palgad")
    assert result.exit_code == ExitCode.USAGE
    assert "Uku has no topic 'Palgad'" in result.stderr
    assert "Bookkeeping, Payroll, Annual report" in result.stderr
    assert paths.config_file().read_bytes() == before


def test_first_schedule_prints_the_first_window(cli: Invoke) -> None:
    """Schedule plus first import date (Estonian form) prints the next import day and window."""
    result = cli(
        "map-fields", "--schedule", "last_calendar_day", "--first-import-date", "01.10.2024"
    )
    assert result.exit_code == 0, result.output
    assert "Next import 31.10.2024 will count 01.10.2024–30.10.2024 (period 2024-10)." in flat(
        result.stdout
    )
    summary = raw_config()["summary"]
    assert summary["first_import_date"] == dt.date(2024, 10, 1)
    assert summary["schedule"] == "last_calendar_day"


def test_schedule_change_never_moves_last_period_end(
    cli: Invoke, write_config: WriteConfig
) -> None:
    """The worked example: after the October run, last work day covers 31.10–28.11."""
    write_config('[summary]\nschedule = "last_calendar_day"\nfirst_import_date = 2024-10-01\n')
    with locked_state() as session:
        session.state.complete_window(dt.date(2024, 10, 30), "2024-10")
        session.save()
    before = paths.state_file().read_bytes()
    result = cli("map-fields", "--schedule", "last_work_day")
    assert result.exit_code == 0, result.output
    assert "Next import 29.11.2024 will count 31.10.2024–28.11.2024 (period 2024-11)." in flat(
        result.stdout
    )
    assert paths.state_file().read_bytes() == before
    assert load_config().summary.first_import_date == dt.date(2024, 10, 1)


def test_day_of_next_month_needs_a_day_and_other_rules_drop_it(cli: Invoke) -> None:
    """--day only with day_of_next_month; switching away removes the day from config."""
    result = cli("map-fields", "--schedule", "last_work_day", "--day", "5")
    assert result.exit_code == ExitCode.USAGE
    assert "--day is only used with --schedule day_of_next_month" in result.stderr
    result = cli("map-fields", "--schedule", "day_of_next_month")
    assert result.exit_code == ExitCode.USAGE
    assert "needs --day N" in result.stderr
    assert not paths.config_file().exists()

    assert cli("map-fields", "--schedule", "day_of_next_month", "--day", "5").exit_code == 0
    assert raw_config()["summary"] == {"schedule": "day_of_next_month", "day": 5}
    assert cli("map-fields", "--day", "7").exit_code == 0
    assert raw_config()["summary"]["day"] == 7
    assert cli("map-fields", "--schedule", "last_work_day").exit_code == 0
    assert raw_config()["summary"] == {"schedule": "last_work_day"}


def test_unknown_schedule_and_impossible_date_are_refused(cli: Invoke) -> None:
    """A misspelt rule or 31.02 is a usage error naming what is wrong."""
    result = cli("map-fields", "--schedule", "last_workday")
    assert result.exit_code == ExitCode.USAGE
    assert "last_work_day" in result.stderr
    result = cli("map-fields", "--first-import-date", "31.02.2024")
    assert result.exit_code == ExitCode.USAGE
    assert "February 2024 has 29 days" in flat(result.output)


def test_title_and_auto_complete(cli: Invoke) -> None:
    """--title checks its placeholders; --auto-complete/--no-auto-complete toggle the flag."""
    result = cli("map-fields", "--title", "Trigon {month}")
    assert result.exit_code == ExitCode.USAGE
    assert "unknown placeholder {month}" in result.stderr
    assert cli("map-fields", "--title", "Trigon {period}", "--auto-complete").exit_code == 0
    assert raw_config()["summary"] == {"task_title": "Trigon {period}", "auto_complete": True}
    assert cli("map-fields", "--no-auto-complete").exit_code == 0
    assert raw_config()["summary"]["auto_complete"] is False


def test_show_cannot_be_combined_with_changes(cli: Invoke) -> None:
    """--show never writes, so it refuses to be given changes."""
    result = cli("map-fields", "--show", "--auto-complete")
    assert result.exit_code == ExitCode.USAGE


def test_mapping_without_uku_connection_says_connect(cli: Invoke) -> None:
    """Mapping needs Uku's field list: not connected is the auth error."""
    result = cli("map-fields", "--set", "payments_created=10")
    assert result.exit_code == ExitCode.AUTH
    assert "connect-uku" in result.stderr


def test_show_reports_a_mapping_uku_no_longer_has(
    cli: Invoke, uku: Running, write_config: WriteConfig, base_config: str, wide: None
) -> None:
    """A mapped field that was deleted in Uku is shown as missing, not silently dropped."""
    write_config(base_config + '\n[fields]\npayments_created = "Old field"\n')
    result = cli("map-fields", "--show")
    assert result.exit_code == 0, result.output
    assert "✗ no such Uku field" in result.stdout


def test_interactive_mapping_on_a_terminal(
    cli: Invoke, uku: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a TTY each field is asked in turn (no field twice, Enter leaves an unmapped one
    unmapped), then the missing summary settings; the changes are listed before saving."""
    monkeypatch.setattr(output, "is_interactive", lambda: True)
    fields_answers = ["1", "1", "2", "x", "-"] + [""] * 11
    # then the topic (a wrong name is asked again), title, schedule, first date; save
    summary_answers = ["nope", "Bookkeeping", "Monthly summary {period}", "1", "01.10.2024"]
    answers = [*fields_answers, *summary_answers, "y"]
    result = cli("map-fields", stdin="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    # The walk-through talks on stderr, like every other prompt: `map-fields > file`
    # still shows its questions, and stdout holds only what changes.
    said = " ".join(result.stderr.split())  # however wide the console wrapped it
    assert "each count needs its own field" in said
    assert "Uku fields that can hold a count" not in result.stdout
    assert "Type a number from 1 to 14" in said
    assert "Uku has no topic 'nope'" in said
    assert "(type 3 for the field of that name)" in said  # a hint, not a choice
    listed = result.stdout[result.stdout.index("These settings will change:") :]
    assert "added: payments_created -> 'Payment created'" in listed
    assert "added: summary.first_import_date -> 01.10.2024" in listed
    raw = raw_config()
    assert raw["fields"] == {
        "payments_created": "Payment created",
        "payments_updated": "Payment updated",
    }
    assert raw["summary"] == {
        "topic": "Bookkeeping",
        "task_title": "Monthly summary {period}",
        "schedule": "last_work_day",
        "first_import_date": dt.date(2024, 10, 1),
    }


def test_enter_through_interactive_map_fields_changes_nothing(
    cli: Invoke,
    uku: Running,
    base_config: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five fields mapped (one by id, one deleted in Uku) and every setting set: pressing
    Enter at every question keeps them all and writes nothing."""
    text = base_config + (
        '\n[summary]\ntask_title = "Summary {period}"\ntopic = "bookkeeping"\n'
        'schedule = "last_calendar_day"\nfirst_import_date = 2024-10-01\n'
        '\n[fields]\npayments_created = "payment CREATED"\npayments_updated = 11\n'
        'sales_invoices_created = "Sales invoice created"\n'
        'financial_entries_created = "Financial entry created"\n'
        'expense_lines_created = "Old field"\n'
    )
    write_config(text)
    before = paths.config_file().read_bytes()
    monkeypatch.setattr(output, "is_interactive", lambda: True)
    result = cli("map-fields", stdin="\n" * 30)
    assert result.exit_code == 0, result.output
    assert "Nothing was changed." in result.stdout
    assert paths.config_file().read_bytes() == before


def test_interactive_change_is_listed_and_refusing_saves_nothing(
    cli: Invoke,
    uku: Running,
    base_config: str,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Re-pointing one field and dropping another: both listed; answering no keeps the file."""
    text = base_config + (
        '\n[summary]\ntask_title = "Summary {period}"\ntopic = "Bookkeeping"\n'
        'schedule = "last_calendar_day"\nfirst_import_date = 2024-10-01\n'
        '\n[fields]\npayments_created = "Payment created"\npayments_updated = "Payment updated"\n'
    )
    write_config(text)
    before = paths.config_file().read_bytes()
    monkeypatch.setattr(output, "is_interactive", lambda: True)
    result = cli("map-fields", stdin="3\n-\n" + "\n" * 12 + "n\n")
    assert result.exit_code == 0, result.output
    shown = flat(result.stdout)
    assert "changed: payments_created: 'Payment created' -> 'Purchase invoice created'" in shown
    assert "removed: payments_updated (was 'Payment updated')" in shown
    assert "Nothing was changed." in shown
    assert paths.config_file().read_bytes() == before


def test_first_import_date_after_runs_says_it_has_no_effect(
    cli: Invoke, uku: Running, base_config: str, write_config: WriteConfig
) -> None:
    """Once counting has reached a day, a new first import date is saved but has no effect."""
    write_config(base_config)
    with locked_state() as session:
        session.state.complete_window(dt.date(2024, 10, 30), "2024-10")
        session.save()
    result = cli("map-fields", "--first-import-date", "01.09.2024")
    assert result.exit_code == 0, result.output
    assert "the first import date no longer has an effect" in flat(result.stdout)
    assert "counting already reached 30.10.2024" in flat(result.stdout)


def test_map_fields_keeps_every_comment_of_config_example(
    cli: Invoke, uku: Running, write_config: WriteConfig
) -> None:
    """config.example.toml, changed by map-fields: every comment line and blank line stays,
    in order; only the changed keys differ."""
    example = (Path(__file__).parents[2] / "config.example.toml").read_text(encoding="utf-8")
    text = re.sub(
        r'(?m)^base_url = "https://app.getuku.com/api/v3"$', f'base_url = "{uku.uku_url}"', example
    )
    text = re.sub(r'(?m)^company = ".*"$', f'company = "{SANDBOX_COMPANY}"', text)
    text = re.sub(r'(?m)^file = ".*"$', "# file removed for the test", text)
    write_config(text)
    result = cli(
        "map-fields",
        "--set",
        "purchase_invoices_updated=Purchase invoice updated",
        "--unset",
        "payments_updated",
        "--title",
        "Kokkuvõte {period}",
        "--first-import-date",
        "01.11.2024",
    )
    assert result.exit_code == 0, result.output
    after = paths.config_file().read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#") or not line]
    kept = [line for line in after.splitlines() if line.lstrip().startswith("#") or not line]
    assert kept == comments
    raw = raw_config()
    assert raw["summary"]["task_title"] == "Kokkuvõte {period}"
    assert raw["summary"]["first_import_date"] == dt.date(2024, 11, 1)
    assert raw["fields"]["purchase_invoices_updated"] == "Purchase invoice updated"
    assert "payments_updated" not in raw["fields"]
    assert raw["fields"]["payments_created"] == "Payments created"  # untouched keys stay


def test_a_topic_change_during_an_unfinished_period_says_where_its_tasks_go(
    cli: Invoke, uku: Running
) -> None:
    """The open period keeps its topic (its tasks are found there); map-fields says so, and
    it changes settings only under the state lock (a running run-monthly: busy)."""
    from trigon_sync.records import periods as period_record
    from trigon_sync.schedule.rules import Run
    from trigon_sync.store import lock

    run = Run(dt.date(2024, 10, 31), dt.date(2024, 10, 1), dt.date(2024, 10, 30), "2024-10")
    with locked_state() as session:
        period_record.mark_open(session.state, run, dt.datetime.now(dt.UTC), topic_id=1)
        session.save()
    result = cli("map-fields", "--topic", "Payroll")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.split())
    assert "period 2024-10 is unfinished" in flat and "topic 1" in flat
    with lock.exclusive_lock():
        busy = cli("map-fields", "--topic", "Bookkeeping")
    assert busy.exit_code == ExitCode.BUSY, busy.output


def test_a_title_without_the_period_is_saved_with_a_warning(cli: Invoke, uku: Running) -> None:
    """Every month's task would get the same title: allowed, but said on stderr."""
    result = cli("map-fields", "--title", "Monthly summary")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "{period}" in result.stderr
    quiet = cli("map-fields", "--title", "Summary {period}")
    assert "warning:" not in quiet.stderr
