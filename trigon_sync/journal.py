"""The monthly run's memory of finished clients: one append-only file per open period.

A run over hundreds of clients can die anywhere (cron killed, power cut, Uku down). So
every client that is finished in Uku gets one fsync'd JSON line in
``<home>/journal/<period>.jsonl`` at once, and the next run skips exactly those. The
cost is one short append per client: O(clients) bytes per period, never a rewrite of
state.toml per client (O(clients²)). When every client of the period is done, the run
folds the period into state.toml (``[journal.completed]``) and moves the file to
``<period>.jsonl.done`` as an audit trail.

Inside ``state.journal`` (owned here and by monthly.py):

* ``period``, ``import_day``, ``window_start``, ``window_end``, ``started_at``: the period
  a run has started but not finished. Present means "a monthly run is in progress", and
  a later run resumes that exact window even if the schedule was changed meanwhile;
* ``completed.<period>``: the window and totals of each finished period, which
  ``run-monthly --rerun`` uses to re-count the same days.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trigon_sync import home_safety, paths
from trigon_sync.errors import StateError
from trigon_sync.schedule import Run
from trigon_sync.state import State

OPEN_KEYS = ("period", "import_day", "window_start", "window_end", "started_at")


def journal_dir() -> Path:
    return paths.journal_dir()


def journal_file(period: str) -> Path:
    return journal_dir() / f"{period}.jsonl"


# -- the state side -----------------------------------------------------------------------


def run_in_progress(state: State) -> bool:
    """Whether a monthly period was started and not finished (the window must not move)."""
    return bool(state.journal.get("period"))


def open_run(state: State) -> Run | None:
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


def mark_open(state: State, run: Run, at: dt.datetime) -> bool:
    """Record ``run`` as the open period; False when it already was (nothing to save)."""
    if open_run(state) == run:
        return False
    state.journal.update(
        period=run.period,
        import_day=run.import_day,
        window_start=run.window_start,
        window_end=run.window_end,
        started_at=at.isoformat(timespec="seconds"),
    )
    return True


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


# -- the per-period file ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One finished client of one period: which task holds its counts."""

    firm: str
    client: int
    task: int
    action: str
    counts: Mapping[str, int] = field(default_factory=dict)

    def to_json(self, run: Run, at: dt.datetime) -> dict[str, Any]:
        return {
            "firm": self.firm,
            "client": self.client,
            "task": self.task,
            "action": self.action,
            "counts": dict(self.counts),
            "window": [run.window_start.isoformat(), run.window_end.isoformat()],
            "at": at.isoformat(timespec="seconds"),
        }


class PeriodJournal:
    """Append-only record of the clients finished for one period's window."""

    def __init__(self, run: Run, path: Path | None = None) -> None:
        self.run = run
        self.path = path or journal_file(run.period)
        self._lock = threading.Lock()
        self.appended = 0

    def load(self) -> dict[str, Entry]:
        """Finished clients by Trigon firm id; lines of another window or torn lines are
        ignored (a kill mid-append leaves at most one partial last line)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        window = [self.run.window_start.isoformat(), self.run.window_end.isoformat()]
        done: dict[str, Entry] = {}
        for line in text.splitlines():
            try:
                doc = json.loads(line)
                if doc.get("window") != window:
                    continue
                done[str(doc["firm"])] = Entry(
                    firm=str(doc["firm"]),
                    client=int(doc["client"]),
                    task=int(doc["task"]),
                    action=str(doc["action"]),
                    counts={str(k): int(v) for k, v in (doc.get("counts") or {}).items()},
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return done

    def append(self, entry: Entry, at: dt.datetime) -> None:
        """Write one line and fsync it before returning (called from worker threads)."""
        line = json.dumps(entry.to_json(self.run, at), ensure_ascii=False) + "\n"
        with self._lock:
            home_safety.guard_write(self.path.parent)
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = home_safety.open_for_append(self.path)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self.appended += 1

    def archive(self) -> None:
        """The period is folded into state: keep the file as ``<period>.jsonl.done``."""
        with contextlib.suppress(FileNotFoundError):
            self.path.replace(self.path.with_name(self.path.name + ".done"))
