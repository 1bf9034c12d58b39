"""A property over generated histories (issue 22): each (client, period) stands alone.

Nights come and go (some missed), clients fail and recover, are unlinked, pairs are
waived, the schedule changes, runs are killed mid-period. The night is played with the
project's own planning pieces: the timeline says which periods are due (timeline/due.py),
records/periods.py opens and completes them, monthly/owing.py says which owed pairs are
retried first and on which window, and which are owed after the night. Uku is a dict.

Checked after every history: each (client, period) the client was linked for at the
period's import day has exactly one task, holding that period's window, or is owed, or
waived, or the client was unlinked before it got one; and the completed windows tile
from the first import date with no gap or overlap.
"""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples_budget import examples
from trigon_sync.monthly import owing
from trigon_sync.monthly.plan import ClientPlan
from trigon_sync.monthly.result import ClientOutcome, MonthlyResult, PeriodResult
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import ONE_DAY, Run, ScheduleRule
from trigon_sync.store.state import ClientLink, State
from trigon_sync.timeline.due import timeline

FIRST = dt.date(2024, 10, 1)
RULES = (
    ScheduleRule("last_calendar_day"),
    ScheduleRule("last_work_day"),
    ScheduleRule("day_of_next_month", 5),
)
AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _link(firm: str) -> ClientLink:
    return ClientLink(firm, firm, f"Firm {firm}", int(firm[1:]) + 100, FIRST)


class World:
    """The home (a real State, edited by records/periods.py), Uku's tasks and the
    client_periods table, as plain dicts."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.state = State()
        self.tasks: dict[tuple[str, str], list[Run]] = {}
        self.owed: list[owing.Owed] = []
        self.waived: set[tuple[str, str]] = set()
        self.unlinked: set[str] = set()
        self.rule = RULES[0]
        self.expected: set[tuple[str, str]] = set()
        for n in range(rng.randint(1, 5)):
            firm = f"f{n}"
            self.state.links[firm] = _link(firm)

    def attempt(self, firm: str, run: Run, failing: set[str]) -> ClientOutcome:
        link = self.state.links[firm]
        made = self.tasks.setdefault((firm, run.period), [])
        if made:  # done by an earlier (killed) night: the journal says so before any count
            return ClientOutcome(ClientPlan(link, "exists", task_id=1), ok=True)
        if firm in failing:
            return ClientOutcome(ClientPlan(link, "skip"), ok=False, error="no View")
        made.append(run)
        return ClientOutcome(ClientPlan(link, "create", task_id=1), ok=True)

    def night(self, today: dt.date, failing: set[str], kill_after: int | None) -> None:
        result = MonthlyResult(today)
        linked = sorted(self.state.links)
        before = [p for p in self.owed if p.firm in self.state.links]
        for run, firms in owing.retries(self.state, before):
            period = PeriodResult(run, late=True)
            period.outcomes = [self.attempt(f, run, failing) for f in sorted(firms)]
            result.periods.append(period)
        schedule = timeline(
            self.rule,
            FIRST,
            self.state.last_period_end,
            self.state.last_period,
            period_record.open_run(self.state),
            today,
        )
        attempted = 0
        for run in schedule.due:
            period_record.mark_open(self.state, run, AT)
            self.expected |= {(f, run.period) for f in linked}
            period = PeriodResult(run)
            result.periods.append(period)
            for firm in linked:
                if kill_after is not None and attempted >= kill_after:
                    self._close(before, result)
                    return  # killed: the period stays open, the next night resumes it
                period.outcomes.append(self.attempt(firm, run, failing))
                attempted += 1
            period.complete = True
            period_record.mark_completed(self.state, run, AT)
        self._close(before, result)

    def _close(self, before: list[owing.Owed], result: MonthlyResult) -> None:
        after = owing.after_run(before, result)
        kept = [p for p in self.owed if p.firm not in self.state.links]  # unlinked: stay
        self.owed = kept + after


@settings(max_examples=examples(60), deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_client_period_ends_with_one_task_of_its_window_or_owed_or_waived(
    seed: int,
) -> None:
    """Generated histories keep every (client, period) accounted for, windows tiled."""
    rng = random.Random(seed)
    world = World(rng)
    today = dt.date(2024, 10, 20)
    for _ in range(rng.randint(3, 14)):
        today += dt.timedelta(days=rng.choice((1, 3, 11, 17, 31, 45)))  # missed nights
        if rng.random() < 0.15 and period_record.open_run(world.state) is None:
            world.rule = rng.choice(RULES)
        links = sorted(world.state.links)
        failing = {f for f in links if rng.random() < 0.3}
        if links and rng.random() < 0.1:
            gone = rng.choice(links)
            del world.state.links[gone]
            world.unlinked.add(gone)
        if world.owed and rng.random() < 0.2:
            pair = rng.choice(world.owed)
            world.waived.add((pair.firm, pair.period))
            world.owed.remove(pair)
        kill = rng.randint(0, 4) if rng.random() < 0.15 else None
        world.night(today, failing, kill)
    # a last quiet night with everyone able: every owed pair of a linked client clears
    world.night(today + ONE_DAY, set(), None)

    journal = world.state.journal
    completed = [journal.completed[p].run for p in sorted(journal.completed)]
    start = FIRST
    for run in completed:  # tiling: each window starts the day after the last one ended
        assert run.window_start == start and run.window_end >= run.window_start
        start = run.window_end + ONE_DAY
    assert world.state.last_period_end in (None, start - ONE_DAY)
    windows = {run.period: run for run in completed}
    owed_now = {(p.firm, p.period) for p in world.owed}
    for firm, period in world.expected:
        made = world.tasks.get((firm, period), [])
        assert len(made) <= 1
        if made:
            assert period not in windows or made[0] == windows[period]
            assert (firm, period) not in owed_now
        elif period in windows:
            assert (
                (firm, period) in owed_now
                or (firm, period) in world.waived
                or firm in world.unlinked
            ), (firm, period)
    assert not {(f, p) for f, p in owed_now if f in world.state.links}  # all cleared
