"""`trigon-sync state show` and `state set-last-period-end`."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from freezegun import freeze_time
from typer.testing import Result

from trigon_sync.cli import output
from trigon_sync.errors import ExitCode
from trigon_sync.records.tables import Periods, RunRecord
from trigon_sync.store import paths
from trigon_sync.store.state import load_state, locked_state

Invoke = Callable[..., Result]
WriteConfig = Callable[[str], Path]

DAY_5 = '[summary]\nfirst_import_date = 2024-10-01\nschedule = "day_of_next_month"\nday = 5\n'
pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture
def frozen_today() -> object:
    """Today is 20.11.2024 in Tallinn for every test here."""
    with freeze_time("2024-11-20 10:00:00+02:00") as frozen:
        yield frozen


def test_show_json_of_empty_state(cli: Invoke) -> None:
    """With no state yet, --json prints one object with nulls and empty collections."""
    result = cli("state", "show", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["last_period_end"] is None
    assert (doc["links"], doc["history"], doc["schema_version"]) == ({}, [], 1)


def test_default_period_follows_the_configured_rule(cli: Invoke, write_config: WriteConfig) -> None:
    """Under day 5 of next month, a window ending 04.11.2024 is period 2024-10."""
    write_config(DAY_5)
    result = cli("state", "set-last-period-end", "04.11.2024", "--yes")
    assert result.exit_code == 0, result.output
    state = load_state()
    assert (state.last_period_end, state.last_period) == (dt.date(2024, 11, 4), "2024-10")
    [entry] = state.history
    assert entry.command == "state set-last-period-end"
    assert entry.at.startswith("2024-11-20T10:00:00+02:00")
    assert entry.details["last_period"] == "2024-10"
    assert stat_mode(paths.state_file()) == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_explicit_period_needs_no_schedule(cli: Invoke) -> None:
    """--period works without a config; the label is stored as given."""
    result = cli("state", "set-last-period-end", "2024-10-30", "--period", "2024-10", "--yes")
    assert result.exit_code == 0, result.output
    assert load_state().last_period == "2024-10"
    shown = json.loads(cli("state", "show", "--json").stdout)
    assert (shown["last_period_end"], shown["last_period"]) == ("2024-10-30", "2024-10")


def test_without_schedule_or_period_it_asks_for_one(cli: Invoke) -> None:
    """No rule to derive the label from: usage error saying to pass --period."""
    result = cli("state", "set-last-period-end", "2024-10-30", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "--period" in result.stderr
    assert not paths.state_file().exists()


def test_refuses_without_terminal_unless_yes(cli: Invoke, write_config: WriteConfig) -> None:
    """Without a TTY and without --yes nothing is changed and the user is told about --yes."""
    write_config(DAY_5)
    result = cli("state", "set-last-period-end", "04.11.2024")
    assert result.exit_code == ExitCode.USAGE
    assert "pass --yes" in result.stderr
    assert load_state().last_period_end is None


def test_prompt_on_a_terminal_shows_next_run(
    cli: Invoke, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the question names the next run; answering no changes nothing."""
    write_config(DAY_5)
    monkeypatch.setattr(output, "is_interactive", lambda: True)
    result = cli("state", "set-last-period-end", "04.11.2024", stdin="n\n")
    assert result.exit_code == ExitCode.USAGE
    asked = " ".join(result.stderr.split())  # prompts go to stderr (issue 28)
    assert "Then the next import 05.12.2024 will count 05.11.2024–04.12.2024 (period" in asked
    assert "cancelled" in result.stderr
    assert load_state().last_period_end is None


def test_date_must_be_in_the_past(cli: Invoke, write_config: WriteConfig) -> None:
    """A window cannot end today or later."""
    write_config(DAY_5)
    result = cli("state", "set-last-period-end", "20.11.2024", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "before today (20.11.2024)" in result.stderr


def test_busy_while_another_run_holds_the_lock(cli: Invoke, write_config: WriteConfig) -> None:
    """A second writer exits at once with the busy code and one line."""
    write_config(DAY_5)
    with locked_state():
        result = cli("state", "set-last-period-end", "04.11.2024", "--yes")
    assert result.exit_code == ExitCode.BUSY
    assert result.stderr.splitlines() == [
        f"error: another trigon-sync run is in progress (pid {os.getpid()}) — "
        "nothing was changed; try again when it has finished"
    ]


def test_refused_while_a_monthly_run_is_in_progress(cli: Invoke, write_config: WriteConfig) -> None:
    """With a non-empty journal the window must not move under the running month."""
    write_config(DAY_5)
    with locked_state() as session:
        session.state.journal = Periods.from_document({"period": "2024-10"})
        session.save()
    result = cli("state", "set-last-period-end", "04.11.2024", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "in progress" in result.stderr


def test_corrupt_state_exits_with_state_code(cli: Invoke) -> None:
    """A corrupt state.toml is reported in one line with exit code 8 and left alone."""
    paths.ensure_home()
    paths.state_file().write_text("schema_version = \n")
    result = cli("state", "show")
    assert result.exit_code == ExitCode.STATE
    assert len(result.stderr.splitlines()) == 1
    assert "will not overwrite it" in result.stderr
    assert paths.state_file().read_text() == "schema_version = \n"


def test_bad_date_argument_is_a_usage_error(cli: Invoke) -> None:
    """An impossible DATE is rejected by the parser with exit 2."""
    result = cli("state", "set-last-period-end", "31.02.2024", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "February 2024" in result.output


def test_show_names_the_unfinished_period_and_newest_run_first(cli: Invoke) -> None:
    """A partial period is named with the command that resumes it; runs read newest first."""
    with locked_state() as session:
        session.state.journal = Periods.from_document({"period": "2024-10"})
        session.state.new_history += [
            RunRecord("2024-10-31T00:30:00+02:00", "run-monthly", "partial"),
            RunRecord("2024-11-01T00:30:00+02:00", "run-monthly", "ok"),
        ]
        session.save()
    shown = cli("state", "show")
    assert shown.exit_code == 0, shown.output
    assert "Unfinished period: 2024-10; the next `trigon-sync run-monthly` resumes it" in (
        shown.stdout
    )
    assert shown.stdout.index("01.11.2024 00:30") < shown.stdout.index("31.10.2024 00:30")


LAST_CAL = '[summary]\nfirst_import_date = 2024-10-01\nschedule = "last_calendar_day"\n'


def test_marker_on_31_12_makes_january_the_next_period(
    cli: Invoke, write_config: WriteConfig, frozen_today: object
) -> None:
    """31.12.2024 under last calendar day: the 31.01.2025 run counts 01.01–30.01 as 2025-01."""
    write_config(LAST_CAL)
    frozen_today.move_to("2025-01-15 10:00:00+02:00")  # type: ignore[attr-defined]  # freezegun's fixture is untyped
    result = cli("state", "set-last-period-end", "31.12.2024", "--yes")
    assert result.exit_code == 0, result.output
    state = load_state()
    assert (state.last_period_end, state.last_period) == (dt.date(2024, 12, 31), "2024-12")
    shown = json.loads(cli("schedule", "--json", "--count", "1").stdout)["runs"][0]
    assert (shown["import_day"], shown["window_start"], shown["window_end"]) == (
        "2025-01-31",
        "2025-01-01",
        "2025-01-30",
    )
    assert shown["period"] == "2025-01"


def finish(period: str, start: dt.date, end: dt.date) -> None:
    """Record ``period`` as completed by run-monthly (what journal.mark_completed leaves)."""
    from trigon_sync.records import periods as period_record
    from trigon_sync.schedule.rules import Run

    with locked_state() as session:
        run = Run(end + dt.timedelta(days=1), start, end, period)
        period_record.mark_completed(
            session.state, run, dt.datetime(2024, 11, 1, tzinfo=dt.UTC), clients=1
        )
        session.save()


def test_moving_back_over_finished_periods_is_refused(
    cli: Invoke, write_config: WriteConfig
) -> None:
    """Back over a finished period: refused, listing it and pointing at --rerun; nothing moves."""
    write_config(LAST_CAL)
    finish("2024-10", dt.date(2024, 10, 1), dt.date(2024, 10, 30))
    result = cli("state", "set-last-period-end", "15.10.2024", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "would count finished period(s) again: 2024-10" in result.stderr
    assert "run-monthly --rerun 2024-10" in result.stderr
    assert load_state().last_period_end == dt.date(2024, 10, 30)


def test_moving_forward_after_finished_periods_is_allowed(
    cli: Invoke, write_config: WriteConfig
) -> None:
    """Forward past the finished period: the next window starts the day after DATE."""
    write_config(LAST_CAL)
    finish("2024-10", dt.date(2024, 10, 1), dt.date(2024, 10, 30))
    result = cli("state", "set-last-period-end", "10.11.2024", "--yes")
    assert result.exit_code == 0, result.output
    assert load_state().last_period == "2024-10"
    shown = json.loads(cli("schedule", "--json", "--count", "1").stdout)["runs"][0]
    assert (shown["window_start"], shown["period"]) == ("2024-11-11", "2024-11")
