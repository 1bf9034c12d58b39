"""What state.toml's ``[journal]`` table says: the open period and the finished ones.

Pure reads and edits of ``state.journal`` (no file is touched here): the timeline, the
planning modules and ``explain`` need them without the journal files' I/O, which stays
in journal.py. The keys are documented in journal.py's docstring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from trigon_sync.errors import StateError
from trigon_sync.schedule import Run

if TYPE_CHECKING:
    from trigon_sync.store.state import State


class Journaled(Protocol):
    """What the read-only questions need: a state, or its summary (store/summary.py),
    whose ``journal`` holds at least the open period's keys (:data:`OPEN_KEYS`)."""

    @property
    def journal(self) -> Mapping[str, Any]: ...


OPEN_KEYS = ("period", "import_day", "window_start", "window_end", "started_at", "topic_id")


def run_in_progress(state: Journaled) -> bool:
    """Whether a monthly period was started and not finished (the window must not move)."""
    return bool(state.journal.get("period"))


def open_run(state: Journaled) -> Run | None:
    """The period a previous run started but did not finish, with its exact window."""
    doc = state.journal
    if not doc.get("period"):
        return None
    try:
        return Run(
            import_day=_as_date(doc["import_day"]),
            window_start=_as_date(doc["window_start"]),
            window_end=_as_date(doc["window_end"]),
            period=str(doc["period"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"state.toml [journal] is corrupt ({exc})",
            hint="restore a good copy of state.toml; nothing was changed",
        ) from None


def mark_open(state: State, run: Run, at: dt.datetime, *, topic_id: int | None = None) -> bool:
    """Record ``run`` (and the topic it writes into) as the open period; False when it
    already was (nothing to save)."""
    if open_run(state) == run:
        if topic_id is None or open_topic(state) is not None:
            return False
        state.journal["topic_id"] = topic_id  # a period opened by trigon-sync 0.1
        return True
    state.journal.update(
        period=run.period,
        import_day=run.import_day,
        window_start=run.window_start,
        window_end=run.window_end,
        started_at=at.isoformat(timespec="seconds"),
    )
    if topic_id is not None:
        state.journal["topic_id"] = topic_id
    return True


def open_topic(state: Journaled) -> int | None:
    """The Uku topic id the open period writes into, if it recorded one."""
    value = state.journal.get("topic_id") if run_in_progress(state) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def mark_completed(state: State, run: Run, at: dt.datetime, **totals: Any) -> None:
    """Fold a finished period into state: remember its window, close it, move the marker."""
    for key in OPEN_KEYS:
        state.journal.pop(key, None)
    completed = state.journal.setdefault("completed", {})
    completed[run.period] = {
        "import_day": run.import_day,
        "window_start": run.window_start,
        "window_end": run.window_end,
        "completed_at": at.isoformat(timespec="seconds"),
        **totals,
    }
    state.complete_window(run.window_end, run.period)


def completed_run(state: State, period: str) -> Run | None:
    """The window a completed period counted (for ``--rerun``), or None if unknown."""
    entry = state.journal.get("completed", {}).get(period)
    if not isinstance(entry, Mapping):
        return None
    try:
        return Run(
            import_day=_as_date(entry["import_day"]),
            window_start=_as_date(entry["window_start"]),
            window_end=_as_date(entry["window_end"]),
            period=period,
        )
    except (KeyError, TypeError, ValueError):
        return None


def completed_periods(state: State) -> list[str]:
    return sorted(state.journal.get("completed", {}))


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise TypeError("a date was expected, not a date-time")
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
