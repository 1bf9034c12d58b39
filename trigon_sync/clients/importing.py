"""Reading the two sides into an import plan, and applying a reviewed plan to Uku.

``import-clients`` calls :func:`build_plan` and :func:`stage_plan`; ``confirm`` calls
:func:`staged_plan`, :func:`find_manager` and :func:`apply_plan`. Nothing here prints:
results come back as dataclasses (``clients/confirm_results.py``) for ``cli/import_view.py`` to
render. How one row is created or linked at most once is ``clients/creator.py``; removing a link
(``unlink``) is ``clients/links.py``.

Links are saved to state.toml **in batches** (every :data:`SAVE_EVERY` applied rows, or
every 1/:data:`MAX_SAVES` of the selection when that is more, at the end, and when an
error stops the run), not after each create: each save rewrites the whole file with an
fsync, so saving per create, or every 25 rows of 5,000, would cost O(clients²) bytes. A
run saves at most ``MAX_SAVES`` + 2 times. A SIGKILL can lose at most the last unsaved
batch of *links* — never a client in Uku: the staged plan stays until a confirm finishes
without failures, the journal's intents name every create sent, and the re-run finds
those clients by code in its full listing and records their links. A firm with an intent
is read again by code only when the full listing may be too early to show its create
(sent less than ``settle_seconds`` before the listing).

In a home restored from a backup whose mark is still needed (store/restore_mark.py), the
copy may lack intents the lost home committed after its snapshot: every planned create the
state does not show linked and the listing lacks counts as announced at the mark's moment.
When there are any, the confirm waits until ``settle_seconds`` have passed since then and
reads the full listing once more, so that one listing answers them all (the monthly run
re-reads its task listing once the same way), instead of one read per firm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

from trigon_sync.business_register.index import RegisterIndex
from trigon_sync.clients.confirm_results import (
    APPLIED,
    ConfirmResult,
    Outcome,
    RowCallback,
    RowResult,
)
from trigon_sync.clients.creator import ClientCreator, apply_row, by_code
from trigon_sync.clients.link_guard import check_links
from trigon_sync.clients.links import stamp_company
from trigon_sync.clients.plan import Selection, plan_import
from trigon_sync.errors import UsageError
from trigon_sync.records.import_plan import Action, ImportPlan, PlanRow
from trigon_sync.records.tables import StagedImport
from trigon_sync.store import restore_mark
from trigon_sync.store.journal import ClientIntents
from trigon_sync.store.state import ClientLink, State, StateSession
from trigon_sync.trigon.client import TrigonClient
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.models import Client, Member
from trigon_sync.uku.settling import Settler

SAVE_EVERY = 25
"""Fewest applied rows between two saves of state.toml (see the module docstring)."""
MAX_SAVES = 20
"""Most batch saves of state.toml per confirm, however many rows (module docstring)."""

NOTHING_STAGED_HINT = "run `trigon-sync import-clients` to read both sides and stage a plan"


# --------------------------------------------------------------------------- import-clients

Step = Callable[[str], None]


SKIPPED_IN_HISTORY = 500
"""Firms skipped at ``confirm`` named in its history record (the rest are counted)."""


def build_plan(
    trigon: TrigonClient,
    uku: UkuClient,
    state: State,
    register: RegisterIndex | None,
    *,
    on_step: Step | None = None,
    owners: Mapping[str, str] | None = None,
) -> ImportPlan:
    """Read every listable Trigon firm and every Uku client (all pages) and plan the import.

    ``on_step`` is told what is being read, for a progress display; ``owners`` are the
    admin's ``--owner CODE=FIRM`` choices (client_import_plan.plan_import).
    """
    step = on_step or (lambda _what: None)
    step("Reading Trigon firms")
    firms = trigon.list_firms()
    step(f"Reading Uku clients ({len(firms)} Trigon firms read)")
    clients = uku.list_clients()
    step("Checking the linked clients")
    mismatched = check_links(uku, state.links.values(), firms, clients)
    step("Planning")
    links = {trigon_id: link.uku_client_id for trigon_id, link in state.links.items()}
    return plan_import(firms, clients, links, register, owners, mismatched=mismatched)


def stage_plan(state: State, plan: ImportPlan, now: dt.datetime) -> None:
    """Keep ``plan`` in state for ``confirm`` (replacing any earlier staged plan)."""
    state.staged_import = StagedImport.of(plan, now)


def staged_plan(state: State) -> ImportPlan:
    """The plan ``import-clients`` staged; UsageError when there is none."""
    if state.staged_import is None:
        raise UsageError(
            "no import plan is staged, so there is nothing to confirm", hint=NOTHING_STAGED_HINT
        )
    return state.staged_import.plan


# --------------------------------------------------------------------------- confirm


def find_manager(members: Sequence[Member], email: str) -> Member:
    """The Uku member with ``email`` (case-insensitive); UsageError naming it otherwise."""
    wanted = email.strip().casefold()
    for member in members:
        if member.email.strip().casefold() == wanted:
            return member
    known = ", ".join(sorted(m.email for m in members)[:10]) or "none"
    raise UsageError(
        f"--manager {email!r}: no user of this Uku company has that email; nothing was written",
        hint=f"use the email of an Uku user (members: {known})",
    )


def apply_plan(
    selection: Selection,
    *,
    uku: UkuClient,
    session: StateSession,
    now: dt.datetime,
    manager_id: int | None = None,
    on_row: RowCallback | None = None,
    settler: Settler,
    save_every: int = SAVE_EVERY,
    intents: ClientIntents | None = None,
) -> ConfirmResult:
    """Create and link the selected rows in plan order, recording links in ``session``.

    A row Uku refuses (validation, a code now on two clients, a planned client gone)
    is reported as failed and the others go on; an outage or an auth problem stops
    the run with its error after saving the links made so far. The staged plan is
    dropped only when no row failed, so a re-run retries exactly what is missing.
    ``settler`` waits for Uku's lists to show a create whose answer was lost (every
    caller decides how long: ``[uku] settle_seconds``).
    """
    state = session.state
    stamp_company(state, uku.company)  # links older than the company record: see state.py
    holders = {link.uku_client_id: trigon_id for trigon_id, link in state.links.items()}
    creator = ClientCreator(
        uku,
        settler,
        intents or ClientIntents(),
        manager_id,
    )
    # a home restored from a backup: creates its copy lacks may not be listed yet
    restored = restore_mark.pending(settler.now(), settler.settle_seconds, write=True)
    creator.listed_at = creator.settler.now()
    listed = by_code(uku.list_clients())
    notes: list[str] = []
    if restored is not None:
        notes.append(restored.note(settler.settle_seconds))
        listed = _listed_after_restore(selection, state, creator, listed, restored)
    results: list[RowResult] = []
    unsaved = 0
    batch = max(save_every, -(-len(selection.apply) // MAX_SAVES))
    warnings_before = len(uku.warnings)
    try:
        for row in selection.apply:
            result = apply_row(row, state=state, holders=holders, listed=listed, creator=creator)
            if result.outcome in APPLIED and result.uku_client_id is not None:
                state.links[row.trigon_id] = ClientLink(
                    trigon_id=row.trigon_id,
                    registration_code=row.registration_code,
                    name=row.name,
                    uku_client_id=result.uku_client_id,
                    linked_at=now.date(),
                    flags=[str(flag) for flag in row.flags],
                    uku_company=uku.company,
                )
                holders[result.uku_client_id] = row.trigon_id
                unsaved += 1
                if unsaved >= batch:
                    session.save()
                    unsaved = 0
            results.append(result)
            if on_row is not None:
                on_row(result)
    finally:
        if unsaved:
            session.save()
    outcome = ConfirmResult(
        results=tuple(results),
        selection=selection,
        warnings=tuple(uku.warnings[warnings_before:]),
        notes=tuple(notes),
    )
    if not outcome.failed:
        state.staged_import = None
    counts = outcome.counts()
    clear_intents = not outcome.failed
    state.record(
        now,
        "confirm",
        "partial" if outcome.failed else "ok",
        created=counts[Outcome.CREATED],
        linked=counts[Outcome.LINKED] + counts[Outcome.FOUND],
        failed=counts[Outcome.FAILED],
        skipped=counts["skipped"],
        conflicts=counts["conflicts"] or None,
        # which firms, so `explain` can say a firm was skipped here, when and how to undo it
        skipped_firms=[_firm(row) for row in selection.skipped[:SKIPPED_IN_HISTORY]] or None,
        # and which were left out as conflicts or without View: confirm consumes the staged
        # plan, so after it only this record still says why such a firm has no link
        conflict_firms=[
            {
                **_firm(row),
                "reason": row.reason or "",
                "conflicts_with": [clash.to_dict() for clash in row.clashes],
            }
            for row in selection.conflicts[:SKIPPED_IN_HISTORY]
        ]
        or None,
        unviewable_firms=[_firm(row) for row in selection.unviewable[:SKIPPED_IN_HISTORY]] or None,
    )
    session.save()
    if clear_intents:
        creator.intents.clear()  # every create is linked in the state just saved
    return outcome


def _listed_after_restore(
    selection: Selection,
    state: State,
    creator: ClientCreator,
    listed: dict[str, list[Client]],
    mark: restore_mark.Mark,
) -> dict[str, list[Client]]:
    """The listing that decides a confirm in a home restored from a backup (``mark``: what
    store/restore_mark.py gives; its moment ``mark.at``).

    Each planned create the state does not show linked and ``listed`` lacks may have been
    sent by the lost home after the copy's snapshot: it counts as announced at ``mark.at``.
    If any may be missing from ``listed`` only because it was read too early, wait until
    Uku's lists show what was sent by then and read them once more, for all of them."""
    absent = [
        row.trigon_id
        for row in selection.apply
        if row.action is Action.CREATE
        and row.trigon_id not in state.links
        and row.registration_code not in listed
    ]
    creator.assume_announced(absent, mark.at)
    early = [creator.pending[firm] for firm in absent if creator.listing_too_early(firm)]
    if not early:
        return listed
    creator.settler.wait(max(early), mark.wait_reason())
    creator.listed_at = creator.settler.now()
    return by_code(creator.uku.list_clients())


def _firm(row: PlanRow) -> dict[str, str]:
    """Who a confirm record names: the firm, as ``explain`` finds it again."""
    return {"firm": row.trigon_id, "name": row.name, "registration_code": row.registration_code}
