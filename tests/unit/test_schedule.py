"""The import-window engine: scheduled days, windows, periods, catch-up, schedule changes."""

from __future__ import annotations

import datetime as dt

import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples_budget import examples
from trigon_sync import clock
from trigon_sync.schedule.rules import (
    Run,
    ScheduleRule,
    import_day_for,
    is_work_day,
    next_run,
    period_of,
)
from trigon_sync.timeline.due import timeline

D = dt.date
LAST_CAL = ScheduleRule("last_calendar_day")
LAST_WORK = ScheduleRule("last_work_day")
DAY_5 = ScheduleRule("day_of_next_month", 5)
FIRST = D(2024, 10, 1)


def project_runs(
    rule: ScheduleRule, first: D, last_end: D | None, last_period: str | None, count: int
) -> list[Run]:
    """The next ``count`` runs from this state, seen from before any of them is due."""
    return timeline(rule, first, last_end, last_period, None, D(2000, 1, 1)).projected(count)


def due_runs(
    rule: ScheduleRule, first: D, last_end: D | None, last_period: str | None, today: D
) -> list[Run]:
    return list(timeline(rule, first, last_end, last_period, None, today).due)


def run(day: D, start: D, end: D, period: str) -> Run:
    return Run(import_day=day, window_start=start, window_end=end, period=period)


def test_worked_example_last_calendar_day() -> None:
    """From 01.10.2024 on last calendar day: 31.10 counts 01.10-30.10, 30.11 counts 31.10-29.11."""
    assert project_runs(LAST_CAL, FIRST, None, None, 2) == [
        run(D(2024, 10, 31), D(2024, 10, 1), D(2024, 10, 30), "2024-10"),
        run(D(2024, 11, 30), D(2024, 10, 31), D(2024, 11, 29), "2024-11"),
    ]


def test_worked_example_switch_to_last_work_day_after_october() -> None:
    """After the 31.10 run, last work day: Fri 29.11 (31.10-28.11), then Tue 31.12 (29.11-30.12)."""
    october = next_run(LAST_CAL, FIRST, None)
    assert project_runs(LAST_WORK, FIRST, october.window_end, october.period, 2) == [
        run(D(2024, 11, 29), D(2024, 10, 31), D(2024, 11, 28), "2024-11"),
        run(D(2024, 12, 31), D(2024, 11, 29), D(2024, 12, 30), "2024-12"),
    ]


def test_day_of_next_month_first_run() -> None:
    """Day 5 of next month from 01.10.2024: 05.11.2024 counts 01.10-04.11 as period 2024-10."""
    assert next_run(DAY_5, FIRST, None) == run(D(2024, 11, 5), FIRST, D(2024, 11, 4), "2024-10")


def test_switch_from_last_calendar_day_to_day_5() -> None:
    """After the 31.10.2024 run, day 5 runs on 05.12.2024 for 31.10-04.12, period 2024-11."""
    assert next_run(DAY_5, D(2024, 10, 31), "2024-10") == run(
        D(2024, 12, 5), D(2024, 10, 31), D(2024, 12, 4), "2024-11"
    )


def test_switch_from_last_work_day_to_last_calendar_day_skips_used_period() -> None:
    """After the 29.11.2024 run, last calendar day: 31.12 (29.11-30.12), no 1-day run on 30.11."""
    assert next_run(LAST_CAL, D(2024, 11, 29), "2024-11") == run(
        D(2024, 12, 31), D(2024, 11, 29), D(2024, 12, 30), "2024-12"
    )


def test_day_of_next_month_is_clamped_to_month_length() -> None:
    """Day 31 of the month after January 2025 is 28.02.2025; after Jan 2024 it is 29.02.2024."""
    rule = ScheduleRule("day_of_next_month", 31)
    assert import_day_for(rule, (2025, 1)) == D(2025, 2, 28)
    assert import_day_for(rule, (2024, 1)) == D(2024, 2, 29)


def test_last_work_day_skips_weekends_and_holidays() -> None:
    """Last work day of August 2025 is Fri 29.08; of December 2023 is Fri 29.12 (31st a Sunday)."""
    assert import_day_for(LAST_WORK, (2025, 8)) == D(2025, 8, 29)
    assert import_day_for(LAST_WORK, (2023, 12)) == D(2023, 12, 29)
    assert not is_work_day(D(2024, 12, 24))  # Christmas Eve is an Estonian holiday
    assert not is_work_day(D(2024, 2, 24))  # Independence Day
    assert is_work_day(D(2024, 12, 31))


def test_period_of_is_month_before_for_day_of_next_month() -> None:
    """A run on 05.01.2025 is labelled 2024-12 under day-of-next-month, 2025-01 otherwise."""
    assert period_of(DAY_5, D(2025, 1, 5)) == "2024-12"
    assert period_of(LAST_CAL, D(2025, 1, 5)) == "2025-01"


def test_catch_up_returns_every_missed_run_oldest_first() -> None:
    """Cron down from October to 02.01.2025: three runs are due, in order, and tile."""
    due = due_runs(LAST_WORK, FIRST, None, None, D(2025, 1, 2))
    assert [r.import_day for r in due] == [D(2024, 10, 31), D(2024, 11, 29), D(2024, 12, 31)]
    assert due_runs(LAST_WORK, FIRST, None, None, D(2024, 10, 30)) == []


def test_first_import_date_late_in_month() -> None:
    """Starting on 31.10.2024 with last calendar day, the first run is 30.11 (no empty window)."""
    assert next_run(LAST_CAL, D(2024, 10, 31), None) == run(
        D(2024, 11, 30), D(2024, 10, 31), D(2024, 11, 29), "2024-11"
    )


@pytest.mark.parametrize(
    ("kind", "day"),
    [("day_of_next_month", None), ("day_of_next_month", 0), ("last_work_day", 5), ("weekly", None)],
)
def test_invalid_rules_are_refused(kind: str, day: int | None) -> None:
    """A rule needs a day exactly when it is day-of-next-month, and a known kind."""
    with pytest.raises(ValueError):
        ScheduleRule(kind, day)  # type: ignore[arg-type]  # a bad kind on purpose


@freeze_time("2024-11-28T22:30:00+00:00")
def test_import_day_comes_from_tallinn_time_not_utc() -> None:
    """At 00:30 in Tallinn on 29.11 a UTC server is still on 28.11; today() says 29.11."""
    assert clock.today() == D(2024, 11, 29)
    assert clock.now().utcoffset() == dt.timedelta(hours=2)


rules = st.one_of(
    st.just(LAST_CAL),
    st.just(LAST_WORK),
    st.integers(1, 31).map(lambda day: ScheduleRule("day_of_next_month", day)),
)
gaps = st.one_of(st.integers(1, 3), st.integers(1, 70), st.integers(1, 400))


@settings(max_examples=examples(500), deadline=None)
@given(
    first=st.dates(D(2000, 1, 1), D(2040, 12, 31)),
    lead=st.integers(0, 40),
    steps=st.lists(st.tuples(gaps, rules), min_size=1, max_size=20),
)
def test_windows_tile_time_under_any_history(
    first: D, lead: int, steps: list[tuple[int, ScheduleRule]]
) -> None:
    """Random schedule switches and missed cron nights: windows tile, none empty, no label twice."""
    today = first - dt.timedelta(days=lead)
    last_end: D | None = None
    last_period: str | None = None
    done: list[Run] = []
    for gap, rule in steps:
        today += dt.timedelta(days=gap)
        for r in due_runs(rule, first, last_end, last_period, today):
            year, month = map(int, r.period.split("-"))
            assert r.import_day == import_day_for(rule, (year, month)) <= today
            done.append(r)
            last_end, last_period = r.window_end, r.period
        upcoming = next_run(
            rule, first if last_end is None else last_end + dt.timedelta(1), last_period
        )
        assert upcoming.import_day > today  # nothing due is left behind
    expected_start = first
    for r in done:
        assert r.window_start == expected_start
        assert r.window_start <= r.window_end == r.import_day - dt.timedelta(days=1)
        assert r.period >= f"{r.window_start:%Y-%m}"
        expected_start = r.window_end + dt.timedelta(days=1)
    labels = [r.period for r in done]
    assert labels == sorted(set(labels))
