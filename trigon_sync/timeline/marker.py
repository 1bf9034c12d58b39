"""Moving the counting marker (``state set-last-period-end``) without losing or doubling a day.

``set-last-period-end DATE`` says "every day up to DATE is already counted elsewhere"
(a firm moving over from another integration). So the next run is the first import day
after DATE, it counts from DATE + 1, and it takes the first period label the schedule
gives that window: no month is left without a task (schedule.label_before). Moving the
marker back over periods trigon-sync already finished would count billed days again, so
that is refused; ``run-monthly --rerun PERIOD`` is the way to correct a finished period.
Pure: config, state and ``today`` in, a :class:`MarkerMove` (or a UsageError) out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trigon_sync.dates import format_ee
from trigon_sync.errors import UsageError
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import ONE_DAY, Run, label_before
from trigon_sync.settings.config import Config

if TYPE_CHECKING:
    from trigon_sync.store.state import State
from trigon_sync.timeline.due import timeline


@dataclass(frozen=True)
class MarkerMove:
    """The new marker and the run that would come next (None without a schedule)."""

    day: dt.date
    period: str
    next: Run | None


def plan_marker_move(
    config: Config, state: State, day: dt.date, period: str | None, today: dt.date
) -> MarkerMove:
    """Check a move of ``last_period_end`` to ``day`` and work out what happens next."""
    if day >= today:
        raise UsageError(
            f"the last period end must be before today ({format_ee(today)}), not {format_ee(day)}",
            hint="a window can only end on a day that is already over",
        )
    if period_record.run_in_progress(state):
        raise UsageError(
            f"a monthly run is in progress: period {state.journal.open_label} was started "
            "and is not finished",
            hint="let `trigon-sync run-monthly` finish it before moving the window",
        )
    rule = config.summary.schedule
    if period is None:
        if rule is None:
            raise UsageError(
                "cannot work out the period label: no schedule in config.toml",
                hint="pass --period YYYY-MM or set summary.schedule first",
            )
        period = label_before(rule, day + ONE_DAY)
    recounted = []
    for name in period_record.completed_periods(state):
        done = period_record.completed_run(state, name)
        if (done is not None and done.window_end > day) or name > period:
            recounted.append(name)
    if recounted:
        raise UsageError(
            f"moving the last period end to {format_ee(day)} (period {period}) would count "
            f"finished period(s) again: {', '.join(recounted)}",
            hint="nothing was changed; to correct a finished period's counts run "
            f"`trigon-sync run-monthly --rerun {recounted[-1]}`",
        )
    upcoming = None
    if rule is not None:
        upcoming = timeline(rule, day + ONE_DAY, day, period, None, today).upcoming
    return MarkerMove(day, period, upcoming)
