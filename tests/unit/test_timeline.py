"""One timeline: every view of "what is due, what comes next" agrees with what run-monthly does.

Random histories of schedule changes, missed nights, failed nights (a period left open),
reruns and marker moves; before each night the views (status/doctor, explain, schedule,
map-fields) are compared with the runs run-monthly then picks, and the run's state
changes are the ones MonthlyRun.execute makes (period_record.mark_open / mark_completed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples_budget import examples
from tests.timeline_views import views_agree
from trigon_sync.errors import UsageError
from trigon_sync.monthly.run import _runs as run_monthly_runs
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run, ScheduleRule, label_before
from trigon_sync.settings.config import Config, SummarySettings, UkuSettings
from trigon_sync.store.state import ClientLink, State
from trigon_sync.timeline.marker import plan_marker_move

D = dt.date
ONE = dt.timedelta(days=1)
AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
LINK = ClientLink("f1", "10137319", "Alpha OÜ", 501, D(2000, 1, 1))


def config(rule: ScheduleRule, first: D) -> Config:
    return Config(
        path=Path("/home/x/config.toml"),
        exists=True,
        uku=UkuSettings(company="c-1"),
        summary=SummarySettings(
            task_title="Summary {period}",
            topic="Bookkeeping",
            first_import_date=first,
            schedule=rule,
        ),
        fields={"sales_invoices_created": "Sales invoice created"},
    )


rules = st.one_of(
    st.just(ScheduleRule("last_calendar_day")),
    st.just(ScheduleRule("last_work_day")),
    st.integers(1, 31).map(lambda day: ScheduleRule("day_of_next_month", day)),
)
nights = st.tuples(
    st.just("night"),
    st.one_of(st.integers(1, 3), st.integers(1, 40), st.integers(1, 120)),
    rules,
    st.booleans(),  # whether the night's first due period fails for a client
)
reruns = st.tuples(st.just("rerun"), st.integers(0, 5), rules, st.booleans())
marker_moves = st.tuples(st.just("marker"), st.integers(0, 20), rules, st.booleans())


@settings(max_examples=examples(300), deadline=None)
@given(
    first=st.dates(D(2015, 1, 1), D(2030, 12, 31)),
    rule=rules,
    steps=st.lists(st.one_of(nights, reruns, marker_moves), min_size=1, max_size=14),
)
def test_every_view_agrees_with_what_run_monthly_then_does(
    first: D, rule: ScheduleRule, steps: list[tuple[str, int, ScheduleRule, bool]]
) -> None:
    """Schedule changes, missed and failed nights, reruns, marker moves: one timeline."""
    cfg = config(rule, first)
    state = State(links={"f1": LINK})
    today = first - ONE
    counted: list[Run] = []
    for kind, amount, new_rule, flag in steps:
        cfg = replace(cfg, summary=replace(cfg.summary, schedule=new_rule))
        if kind == "marker":  # state set-last-period-end, refused over finished periods
            day = today - dt.timedelta(days=amount + 1)
            try:
                move = plan_marker_move(cfg, state, day, None, today)
            except UsageError:
                assert period_record.run_in_progress(state) or any(
                    r.window_end > day or r.period > label_before(new_rule, day + ONE)
                    for r in counted
                )
                continue
            if move.next is not None:
                assert move.next.window_start == day + ONE
            state.complete_window(move.day, move.period)
            counted = [r for r in counted if r.window_end <= day]
            continue
        if kind == "rerun":
            done = period_record.completed_periods(state)
            if done:  # a rerun re-counts a finished period and moves nothing
                period = done[-1 - amount % len(done)]
                assert run_monthly_runs(cfg, state, today, period) == [
                    period_record.completed_run(state, period)
                ]
            continue
        today += dt.timedelta(days=amount)
        runs = views_agree(cfg, state, today)
        for index, run in enumerate(runs):
            # each window starts the day after the last counted one, under a new label
            assert run.window_start == (state.last_period_end or first - ONE) + ONE
            assert state.last_period is None or run.period > state.last_period
            assert run.window_start <= run.window_end == run.import_day - ONE
            period_record.mark_open(state, run, AT)
            if flag and index == 0:
                break  # a client failed: the period stays open, later ones wait
            period_record.mark_completed(state, run, AT)
            counted.append(run)
        views_agree(cfg, state, today)
