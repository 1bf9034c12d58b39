"""A scheduled run written out: its window in ``--json`` documents, and the "next import"
sentence people read.

Six documents carry a run's window (``status``, ``schedule``, ``map-fields``,
``run-monthly``'s nothing-due and ``--dry-run`` answers, ``explain``) and four views say
when the next import is (the nightly line, ``status``, its check, ``map-fields``): each
asks here, so the keys and the wording cannot drift apart. Where ``period`` stands in a
document (before or after the window) is that document's, as docs/json-output.md shows it.
Pure.
"""

from __future__ import annotations

from trigon_sync.dates import format_ee
from trigon_sync.schedule.rules import Run

WINDOW_KEYS = ("import_day", "window_start", "window_end")


def window_json(run: Run | None) -> dict[str, str | None]:
    """The run's import day and the first and last day it counts, as ISO dates; with
    None, the same keys as null (a period whose window is not known)."""
    if run is None:
        return dict.fromkeys(WINDOW_KEYS)
    return {
        "import_day": run.import_day.isoformat(),
        "window_start": run.window_start.isoformat(),
        "window_end": run.window_end.isoformat(),
    }


def run_json(run: Run) -> dict[str, str | None]:
    """The window, then the period: a run as ``status``, ``schedule`` and ``map-fields``
    show it."""
    return {**window_json(run), "period": run.period}


def window_text(run: Run) -> str:
    """The days a run counts, as people read them: ``01.10.2024–30.10.2024``."""
    return f"{format_ee(run.window_start)}–{format_ee(run.window_end)}"


def next_import_sentence(run: Run) -> str:
    """When the next import is and what it counts, lower case to stand inside a line:
    ``next import 31.10.2024 will count 01.10.2024–30.10.2024 (period 2024-10)``."""
    day = format_ee(run.import_day)
    return f"next import {day} will count {window_text(run)} (period {run.period})"
