"""`trigon-sync schedule`: the projection users and scripts read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from freezegun import freeze_time
from typer.testing import Result

from trigon_sync.errors import ExitCode

Invoke = Callable[..., Result]
WriteConfig = Callable[[str], Path]

LAST_CALENDAR = '[summary]\nfirst_import_date = 2024-10-01\nschedule = "last_calendar_day"\n'
LAST_WORK = '[summary]\nfirst_import_date = 2024-10-01\nschedule = "last_work_day"\n'


def runs_of(result: Result) -> list[tuple[str, str, str, str, bool]]:
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    return [
        (r["import_day"], r["window_start"], r["window_end"], r["period"], r["due"])
        for r in doc["runs"]
    ]


def test_fresh_state_projects_from_first_import_date(
    cli: Invoke, write_config: WriteConfig
) -> None:
    """With no run yet, the first window starts on the first import date."""
    write_config(LAST_CALENDAR)
    result = cli("schedule", "--today", "2024-10-31", "--count", "2", "--json")
    doc = json.loads(result.stdout)
    assert (doc["last_period_end"], doc["last_period"]) == (None, None)
    assert runs_of(result) == [
        ("2024-10-31", "2024-10-01", "2024-10-30", "2024-10", True),
        ("2024-11-30", "2024-10-31", "2024-11-29", "2024-11", False),
    ]


@freeze_time("2024-11-05 12:00:00+02:00")
def test_worked_example_through_the_cli(cli: Invoke, write_config: WriteConfig) -> None:
    """After the 31.10 run (set by hand) and a switch to last work day: 29.11 then 31.12."""
    write_config(LAST_CALENDAR)
    set_result = cli("state", "set-last-period-end", "30.10.2024", "--yes")
    assert set_result.exit_code == 0, set_result.output
    write_config(LAST_WORK)
    result = cli("schedule", "--today", "29.11.2024", "--json")
    doc = json.loads(result.stdout)
    assert (doc["last_period_end"], doc["last_period"]) == ("2024-10-30", "2024-10")
    assert runs_of(result) == [
        ("2024-11-29", "2024-10-31", "2024-11-28", "2024-11", True),
        ("2024-12-31", "2024-11-29", "2024-12-30", "2024-12", False),
        ("2025-01-31", "2024-12-31", "2025-01-30", "2025-01", False),
    ]


def test_human_output_shows_estonian_dates(cli: Invoke, write_config: WriteConfig) -> None:
    """The table shows days as dd.mm.yyyy with the weekday, and marks due runs."""
    write_config(LAST_WORK)
    result = cli("schedule", "--today", "2024-11-30", "--count", "3")
    assert result.exit_code == 0, result.output
    assert "Fri 29.11.2024" in result.stdout
    assert "2 run(s) due" in result.stdout


def test_missing_schedule_is_a_config_error(cli: Invoke) -> None:
    """Without config.toml the command says which keys to set and where; exit 3."""
    result = cli("schedule")
    assert result.exit_code == ExitCode.CONFIG
    assert "summary.schedule: not set" in result.stderr
    assert "config init" in result.stderr


BAD_CONFIGS = [
    ('[summary]\ntask_title = "Monthly\n', "summary.task_title"),
    ('[summary]\nschedule = "every_friday"\n', "summary.schedule"),
    ('[summary]\nschedule = "day_of_next_month"\nday = 0\n', "summary.day"),
    ('[summary]\nschedule = "day_of_next_month"\nday = 40\n', "summary.day"),
    ('[summary]\nfirst_import_date = "first of October"\n', "summary.first_import_date"),
    ("[summary]\nfirst_import_date = 31.02.2024\n", "summary.first_import_date"),
    ('[summary]\nfirst_import_date = "31.02.2024"\n', "summary.first_import_date"),
]


@pytest.mark.parametrize(("text", "key"), BAD_CONFIGS)
def test_bad_config_is_one_clear_line(
    cli: Invoke, write_config: WriteConfig, text: str, key: str
) -> None:
    """Each new-user mistake: one stderr line naming file and key, exit 3, no traceback."""
    path = write_config(text)
    result = cli("schedule")
    assert result.exit_code == ExitCode.CONFIG
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}:{key}: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""


@freeze_time("2024-11-05 12:00:00+02:00")
def test_an_unfinished_period_keeps_its_window_in_schedule_and_map_fields(
    cli: Invoke, write_config: WriteConfig
) -> None:
    """A period left open under last calendar day, then a switch to day 5: both views show
    the open period's own window (run-monthly resumes it), then the new rule."""
    import datetime as dt

    from trigon_sync.records import periods as period_record
    from trigon_sync.schedule.rules import Run
    from trigon_sync.store.state import locked_state

    write_config(LAST_CALENDAR)
    opened = Run(dt.date(2024, 10, 31), dt.date(2024, 10, 1), dt.date(2024, 10, 30), "2024-10")
    with locked_state() as session:
        period_record.mark_open(session.state, opened, dt.datetime(2024, 10, 31, tzinfo=dt.UTC))
        session.save()
    write_config(
        '[summary]\nfirst_import_date = 2024-10-01\nschedule = "day_of_next_month"\nday = 5\n'
    )
    assert runs_of(cli("schedule", "--count", "2", "--json")) == [
        ("2024-10-31", "2024-10-01", "2024-10-30", "2024-10", True),
        ("2024-12-05", "2024-10-31", "2024-12-04", "2024-11", False),
    ]
    shown = json.loads(cli("map-fields", "--show", "--json").stdout)["next_import"]
    assert (shown["import_day"], shown["window_start"], shown["period"]) == (
        "2024-10-31",
        "2024-10-01",
        "2024-10",
    )
