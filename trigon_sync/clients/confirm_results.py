"""What ``confirm`` did: one outcome per plan row, and the run's result for the summary.

The applying half (``clients/importing.py``, ``clients/creator.py``) builds these; the CLI
(``cli/import_view.py``) and the automatic import render them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trigon_sync.clients.plan import Selection
from trigon_sync.records.import_plan import PlanRow
from trigon_sync.uku.models import UkuWarning


class Outcome(enum.StrEnum):
    """What happened to one selected plan row."""

    CREATED = "created"
    LINKED = "linked"
    """A planned link: the existing Uku client was connected."""
    FOUND = "found"
    """A planned create whose client Uku already had (an interrupted earlier confirm,
    or added by hand since the review): linked, not created again."""
    ALREADY_LINKED = "already_linked"
    FAILED = "failed"


APPLIED = frozenset({Outcome.CREATED, Outcome.LINKED, Outcome.FOUND})


@dataclass(frozen=True)
class RowResult:
    """One row's outcome; ``reason`` says why a row failed."""

    row: PlanRow
    outcome: Outcome
    uku_client_id: int | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "trigon_id": self.row.trigon_id,
            "name": self.row.name,
            "registration_code": self.row.registration_code,
            "outcome": str(self.outcome),
            "uku_client_id": self.uku_client_id,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ConfirmResult:
    """Everything one ``confirm`` did, for the summary and the exit code."""

    results: tuple[RowResult, ...]
    selection: Selection
    warnings: tuple[UkuWarning, ...] = ()
    notes: tuple[str, ...] = ()
    """What the command itself tells the admin, once (a home restored from a backup waits
    for Uku's lists: store/restore_mark.py); printed as ``note:`` lines, also under cron."""

    def of(self, *outcomes: Outcome) -> tuple[RowResult, ...]:
        return tuple(r for r in self.results if r.outcome in outcomes)

    @property
    def failed(self) -> tuple[RowResult, ...]:
        return self.of(Outcome.FAILED)

    def counts(self) -> dict[str, int]:
        """Outcome -> rows, plus the rows the selection left out; every key present."""
        counts = {str(o): len(self.of(o)) for o in Outcome}
        counts["skipped"] = len(self.selection.skipped)
        counts["conflicts"] = len(self.selection.conflicts)
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "rows": [r.to_json() for r in self.results],
            "skipped": [row.registration_code for row in self.selection.skipped],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "notes": list(self.notes),
        }


RowCallback = Callable[[RowResult], None]
"""Told each row's result as it is applied, for a progress display."""
