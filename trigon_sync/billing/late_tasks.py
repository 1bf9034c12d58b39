"""Tasks made late: a client's task for a period it owed, made on a later night.

Uku invoices by a task's date, so a late task carries its period's import day, as if it
had been made on time (docs/operations.md, "Owed periods"): it lands in the billing month
it belongs to. ``report`` shows both dates for such a task and marks it, so whoever
invoices sees that it arrived after the month's invoices may have gone out.

The fact comes from the per-(client, period) records (store/owed.py): a pair that was owed
and was cleared by its task (``done``), with the Tallinn date it became owed and the date
the task was made; the period's import day from its completed window in state.toml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trigon_sync.dates import format_ee, format_ee_day
from trigon_sync.records import periods as period_record
from trigon_sync.store import owed
from trigon_sync.store.state import State


@dataclass(frozen=True, slots=True)
class LateTask:
    """One task made after its client had owed the period."""

    import_day: dt.date | None
    """The period's import day: the date the task carries in Uku (None: not recorded)."""
    created_on: str
    """The Tallinn date the task was made (ISO), the run's day."""
    owed_since: str
    """The Tallinn date the client began to owe the period (ISO)."""

    def text(self) -> str:
        """Both dates, for the report's table: ``02.12.2024 (import day 31.10.2024)``."""
        dated = f" (import day {format_ee(self.import_day)})" if self.import_day else ""
        return f"{format_ee_day(self.created_on)}{dated}"

    def to_json(self) -> dict[str, Any]:
        return {
            "import_day": None if self.import_day is None else self.import_day.isoformat(),
            "created_on": self.created_on,
            "owed_since": self.owed_since,
        }


Late = Mapping[tuple[str, str], LateTask]
"""(Trigon firm id, period) -> the late task."""


def late_tasks(state: State, periods: Sequence[str]) -> dict[tuple[str, str], LateTask]:
    """The late tasks of ``periods`` (an empty answer for a home without records)."""
    found: dict[tuple[str, str], LateTask] = {}
    for key, pair in owed.late(periods).items():
        run = period_record.completed_run(state, pair.period)
        found[key] = LateTask(None if run is None else run.import_day, pair.updated_at, pair.since)
    return found
