"""The clock verdict, pure: samples in, an error or a date out."""

from __future__ import annotations

import datetime as dt

from trigon_sync.clock import TALLINN
from trigon_sync.errors import ExitCode
from trigon_sync.http.clock_skew import (
    MAX_SKEW,
    DateSample,
    Skew,
    behind_last_run,
    problem,
    services_today,
    span,
)
from trigon_sync.records.tables import RunRecord, last_recorded

LOCAL = dt.datetime(2026, 11, 30, 23, 58, tzinfo=TALLINN)


def sample(offset: dt.timedelta) -> DateSample:
    return DateSample(server=(LOCAL + offset).astimezone(dt.UTC), local=LOCAL)


def test_within_the_bound_is_no_problem_and_beyond_it_names_the_worst_clock() -> None:
    """4 min off is fine; 2 days off Uku is exit CLOCK naming Uku and the direction."""
    assert problem([Skew("Trigon", sample(dt.timedelta(minutes=4)))]) is None
    error = problem(
        [
            Skew("Trigon", sample(dt.timedelta(minutes=4))),
            Skew("Uku", sample(-dt.timedelta(days=2))),
        ]
    )
    assert error is not None and error.exit_code is ExitCode.CLOCK
    assert "the local clock is 2 days ahead of Uku's" in error.message
    assert "NTP" in str(error)


def test_services_today_is_the_earliest_date_of_any_clock() -> None:
    """At 23:58 locally with a server 3 min ahead, today stays the local date (the earlier)."""
    ahead = Skew("Uku", sample(dt.timedelta(minutes=3)))
    assert services_today(LOCAL, [ahead]) == dt.date(2026, 11, 30)
    local_ahead = LOCAL + dt.timedelta(minutes=4)  # 00:02 locally, the server still at 23:58
    behind = Skew("Uku", DateSample(server=LOCAL.astimezone(dt.UTC), local=local_ahead))
    assert services_today(local_ahead, [behind]) == dt.date(2026, 11, 30)
    assert services_today(local_ahead, []) == dt.date(2026, 12, 1)


def test_a_clock_behind_the_last_recorded_run_is_caught_offline() -> None:
    """History says a run happened later than "now": the clock went back."""
    history = [
        RunRecord.from_document({"at": at})
        for at in ("2026-11-01T00:30:00+02:00", "garbage", "2026-11-20T00:30")
    ]
    last = last_recorded(history)
    assert last == dt.datetime(2026, 11, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert behind_last_run(LOCAL, last) is None
    error = behind_last_run(LOCAL - dt.timedelta(days=365), last)
    assert error is not None and "behind the last recorded run" in error.message
    assert behind_last_run(last - MAX_SKEW / 2, last) is None


def test_span_reads_like_a_person_wrote_it() -> None:
    assert [span(dt.timedelta(seconds=s)) for s in (3, 720, 18600, 31536000)] == [
        "3 s",
        "12 min",
        "5 h 10 min",
        "365 days",
    ]
