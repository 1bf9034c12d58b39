"""The one answer to "what is due, what comes next": every view asks this module.

``run-monthly`` acts on it, and ``status``, ``doctor``, ``explain``, ``schedule``,
``map-fields`` and ``state set-last-period-end`` show it. They used to work it out each
on their own, and a schedule change during an unfinished period made them disagree with
what the run then did. Now there is one pure function, :func:`timeline`:

* a period a run started and did not finish (``state.journal``) is **open**: it keeps the
  window and import day it was started with, whatever the rule says now, and it is due
  first (run-monthly resumes it);
* after it (or after ``last_period_end`` when nothing is open) come the runs of the rule
  configured *now* (schedule/rules.py), one per import day, each due once its import day has
  come (``import_day <= today``), oldest first;
* ``next`` is the first run after the due ones, and :meth:`Timeline.projected` the runs
  after that, assuming each completes and the rule stays.

The rule history is therefore carried by state itself: finished periods are folded into
``last_period_end`` / ``last_period`` and an unfinished one into the journal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trigon_sync.dates import format_ee
from trigon_sync.errors import StateError
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import ONE_DAY, Run, ScheduleRule, next_run, window_start
from trigon_sync.settings.config import Config

if TYPE_CHECKING:
    from trigon_sync.store.state import State
    from trigon_sync.store.state_view import StateSummary


@dataclass(frozen=True)
class Timeline:
    """What is open, what is due now (oldest first), what comes next, and the rule."""

    rule: ScheduleRule
    open: Run | None
    """The period a run started and left unfinished, with its own window (or None)."""
    due: tuple[Run, ...]
    """Runs whose import day is ``<= today`` and that have not completed; the open one first."""
    next: Run
    """The first run after the due ones (its import day is after ``today``)."""
    today: dt.date

    @property
    def upcoming(self) -> Run:
        """The run the next ``run-monthly`` starts with: the oldest due one, else ``next``."""
        return self.due[0] if self.due else self.next

    @property
    def overdue(self) -> tuple[Run, ...]:
        """Due runs whose import day is already past (cron missed it, or it failed)."""
        return tuple(run for run in self.due if run.import_day < self.today)

    def preview(self) -> Run | None:
        """The run ``upcoming`` cut off at yesterday: the counts so far of the window it
        counts (None when not a single day of it is over yet)."""
        run = self.upcoming
        end = min(run.window_end, self.today - ONE_DAY)
        if end < run.window_start:
            return None
        return Run(run.import_day, run.window_start, end, run.period)

    def projected(self, count: int) -> list[Run]:
        """``next`` and the ``count - 1`` runs after it, if each completes and the rule stays."""
        runs: list[Run] = []
        run = self.next
        for _ in range(count):
            runs.append(run)
            run = next_run(self.rule, run.import_day, run.period)
        return runs

    def runs(self, count: int) -> list[Run]:
        """The due runs, then the projection: ``count`` runs in date order."""
        return [*self.due, *self.projected(count)][:count]


def timeline(
    rule: ScheduleRule,
    first_import_date: dt.date,
    last_period_end: dt.date | None,
    last_period: str | None,
    open_run: Run | None,
    today: dt.date,
) -> Timeline:
    """The timeline for these settings and this state on ``today`` (pure).

    StateError when the open period does not start where the counted days end (state.toml
    was edited during a run): resuming it would count days twice or leave a gap.
    """
    start = window_start(first_import_date, last_period_end)
    if open_run is not None and open_run.window_start != start:
        raise StateError(
            f"state.toml has period {open_run.period} in progress from "
            f"{format_ee(open_run.window_start)}, but the next window starts {format_ee(start)}",
            hint="state.toml was edited during a run; restore it or remove [journal]'s "
            "period keys after checking the tasks in Uku",
        )
    due: list[Run] = []
    if open_run is not None:
        if open_run.import_day > today:  # a --today replay before the open period's day
            return Timeline(rule, open_run, (), open_run, today)
        due.append(open_run)
        run = next_run(rule, open_run.import_day, open_run.period)
    else:
        run = next_run(rule, start, last_period)
    while run.import_day <= today:
        due.append(run)
        run = next_run(rule, run.import_day, run.period)
    return Timeline(rule, open_run, tuple(due), run, today)


def timeline_for(config: Config, state: State | StateSummary, today: dt.date) -> Timeline | None:
    """The timeline of this home, or None while the schedule or first import date is unset.

    The state's facts (store/state_view.py) answer as the whole state does: the
    timeline reads only the counted days and the open period.

    StateError when state.toml's journal is corrupt or inconsistent (see :func:`timeline`).
    """
    rule, first = config.summary.schedule, config.summary.first_import_date
    if rule is None or first is None:
        return None
    return timeline(
        rule, first, state.last_period_end, state.last_period, period_record.open_run(state), today
    )
