"""Step 6 of the help page, automated: new Trigon firms become Uku clients before the run.

With ``[import] auto_import = "create"`` the monthly run first does what an admin would do
with ``import-clients`` + ``confirm --yes``, restricted to the rows no human needs to look
at, so a firm added in Trigon this month gets its summary task in the same run. The plan
and the apply are the very functions those commands use (:func:`client_import.build_plan`,
:func:`client_import_plan.select_rows`, :func:`client_import.apply_plan`); this module only decides
which rows are clear-cut:

* create or link rows whose code passed the check digit **and** was found in the Business
  Register (so the register must have been checked: without it nothing is created);
* and whose firm the Trigon user may View (without View there is nothing to count).

Conflicts (shared or missing codes), red-X rows and rows without View are never applied;
they come back in :attr:`AutoImport.held` with the reason, for the run to report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from trigon_sync.business_register.index import RegisterIndex
from trigon_sync.clients.confirm_results import ConfirmResult
from trigon_sync.clients.importing import apply_plan, build_plan
from trigon_sync.clients.plan import Selection, select_rows
from trigon_sync.records.import_plan import Action, Flag, ImportPlan, PlanRow
from trigon_sync.store.state import StateSession, load_state
from trigon_sync.trigon.client import TrigonClient
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.settling import Settler

HELD_REASONS: dict[Flag, str] = {
    Flag.BAD_CHECK_DIGIT: "bad check digit",
    Flag.NOT_IN_REGISTER: "not in the Business Register",
    Flag.NO_VIEW_PERMISSION: "no View permission in Trigon",
}
"""Flags that keep a create/link row for a human, with the words the report uses."""
REGISTER_UNCHECKED = "the Business Register could not be checked"


@dataclass(frozen=True)
class HeldRow:
    """A firm not imported automatically, and why."""

    row: PlanRow
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "trigon_id": self.row.trigon_id,
            "name": self.row.name,
            "registration_code": self.row.registration_code,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AutoImport:
    """What the automatic import chose, and (unless a dry run) what applying it did."""

    selection: Selection
    held: tuple[HeldRow, ...]
    dry_run: bool
    result: ConfirmResult | None = None

    @property
    def chosen(self) -> tuple[PlanRow, ...]:
        return self.selection.apply

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "planned": [
                {"trigon_id": r.trigon_id, "name": r.name, "action": str(r.action)}
                for r in self.chosen
            ],
            "result": self.result.to_json() if self.result is not None else None,
            "held": [h.to_json() for h in self.held],
        }


def _held_reason(row: PlanRow, register_checked: bool) -> str | None:
    if row.action is Action.CONFLICT:
        return f"conflict: {row.reason}" if row.reason else "conflict"
    if row.action in (Action.LINKED, Action.MISMATCH):
        return None  # a mismatch is the monthly run's failure of that client, with its reason
    reasons = [text for flag, text in HELD_REASONS.items() if row.has(flag)]
    if not register_checked and not row.has(Flag.BAD_CHECK_DIGIT):
        reasons.append(REGISTER_UNCHECKED)
    return "; ".join(reasons) or None


def choose_rows(plan: ImportPlan) -> tuple[Selection, tuple[HeldRow, ...]]:
    """Split the plan: the clear-cut create/link rows, and the rows held for a human (pure)."""
    held = tuple(
        HeldRow(row, reason)
        for row in plan.rows
        if (reason := _held_reason(row, plan.register_checked)) is not None
    )
    skip = sorted({h.row.registration_code for h in held if h.row.action is not Action.CONFLICT})
    return select_rows(plan, skip=skip), held


def auto_import(
    trigon: TrigonClient,
    uku: UkuClient,
    register: RegisterIndex | None,
    *,
    session: StateSession | None,
    now: dt.datetime,
    settler: Settler,
) -> AutoImport:
    """Plan the import and apply its clear-cut rows; ``session=None`` is a dry run.

    An admin's staged plan (from `import-clients`, waiting for `confirm`) is left in place.
    """
    state = session.state if session is not None else load_state()
    plan = build_plan(trigon, uku, state, register)
    selection, held = choose_rows(plan)
    if session is None or not selection.apply:
        return AutoImport(selection, held, dry_run=session is None)
    staged = state.staged_import
    result = apply_plan(selection, uku=uku, session=session, now=now, settler=settler)
    if staged is not None and state.staged_import is None:
        state.staged_import = staged
        session.save()
    return AutoImport(selection, held, dry_run=False, result=result)
