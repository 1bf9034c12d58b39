"""What state.toml's ``[journal]`` table says: the open period and the finished ones.

Pure reads and edits of ``state.journal`` (a ``state_records.Periods``; no file is
touched here): the timeline, the planning modules and ``explain`` need them without the
journal files' I/O, which stays in journal.py.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

from trigon_sync.errors import TrigonSyncError
from trigon_sync.records.tables import CompletedPeriod, OpenPeriod, Periods
from trigon_sync.schedule.rules import Run

if TYPE_CHECKING:
    from trigon_sync.store.state import State


class Journaled(Protocol):
    """What the read-only questions need: a state, or its view (store/state_view.py),
    whose ``journal`` holds at least the open period."""

    @property
    def journal(self) -> Periods: ...


def run_in_progress(state: Journaled) -> bool:
    """Whether a monthly period was started and not finished (the window must not move)."""
    return state.journal.in_progress


def open_run(state: Journaled) -> Run | None:
    """The period a previous run started but did not finish, with its exact window;
    StateError when its record is corrupt."""
    opened = state.journal.require_open()
    return None if opened is None else opened.run


def mark_open(state: State, run: Run, at: dt.datetime, *, topic_id: int | None = None) -> bool:
    """Record ``run`` (and the topic it writes into) as the open period; False when it
    already was (nothing to save)."""
    journal = state.journal
    opened = journal.require_open()
    if opened is not None and opened.run == run:
        if topic_id is None or opened.topic_id is not None:
            return False
        # a period opened by trigon-sync 0.1 learns its topic
        journal.open = OpenPeriod(run=run, started_at=opened.started_at, topic_id=topic_id)
        return True
    journal.open = OpenPeriod(
        run=run, started_at=at.isoformat(timespec="seconds"), topic_id=topic_id
    )
    return True


def open_topic(state: Journaled) -> int | None:
    """The Uku topic id the open period writes into, if it recorded one."""
    opened = state.journal.open
    return None if opened is None else opened.topic_id


def mark_completed(state: State, run: Run, at: dt.datetime, **totals: Any) -> None:
    """Fold a finished period into state: remember its window, close it, move the marker."""
    journal = state.journal
    journal.open = None
    journal.unreadable_open = None
    journal.unreadable_completed.pop(run.period, None)
    journal.completed[run.period] = CompletedPeriod(
        run=run, completed_at=at.isoformat(timespec="seconds"), totals=totals
    )
    state.complete_window(run.window_end, run.period)


def completed_period(state: State, period: str) -> CompletedPeriod | None:
    """A completed period's record, or None if unknown (or unreadable)."""
    return state.journal.completed.get(period)


def completed_run(state: State, period: str) -> Run | None:
    """The window a completed period counted (for ``--rerun``), or None if unknown."""
    entry = completed_period(state, period)
    return None if entry is None else entry.run


def completed_periods(state: State) -> list[str]:
    """Every period the journal names as completed, readable or not."""
    return sorted({*state.journal.completed, *state.journal.unreadable_completed})


def known_runs(state: State) -> list[Run]:
    """Every period state knows a window for (whose journal file may hold lines): the
    completed ones, then the open one (left out when its record is corrupt)."""
    runs = [r for r in (completed_run(state, p) for p in completed_periods(state)) if r]
    try:
        opened = open_run(state)
    except TrigonSyncError:
        opened = None
    if opened is not None:
        runs.append(opened)
    return runs
