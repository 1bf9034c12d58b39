"""Reading the two sides into an import plan, and applying a reviewed plan to Uku.

``import-clients`` calls :func:`build_plan` and :func:`stage_plan`; ``confirm`` calls
:func:`staged_plan`, :func:`find_manager` and :func:`apply_plan`. Nothing here prints:
results come back as dataclasses for ``cli/import_cmd.py`` to render.

Why ``confirm`` never creates an Uku client twice
-------------------------------------------------
Nothing about the real Uku may be trusted for this: it ignores the Idempotency-Key on
most paths, drops the ``registration_code`` filter it does not document, and may list a
new client only a little later. So:

* **One full listing decides.** When ``confirm`` starts, every Uku client is read (all
  pages) and matched by *normalised* registration code ("12 345 678" is 12345678). A
  planned create whose code Uku already has (an earlier confirm killed before it saved
  the link, or a client added by hand since the review) is linked instead (``found``).
* **A create is announced before it is sent.** A line in ``journal/client-creates.jsonl``
  (fsync'd) says a firm's create is on its way. A later confirm that finds such a line
  waits until Uku's lists have caught up (``[uku] settle_seconds`` after it was sent)
  and reads Uku again before creating anything for that firm.
* **A create whose answer was lost is never repeated blindly.** The HTTP layer does not
  repeat POSTs; on a lost answer, a 5xx or a 409 ``IDEMPOTENCY_CONFLICT`` this module
  waits for the lists to settle, reads Uku by code, links the client if it is there and
  only then creates again; after :data:`ATTEMPTS` unconfirmed tries the row fails and
  the next confirm looks again.

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
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trigon_sync.business_register import RegisterIndex
from trigon_sync.client_import_plan import Selection, idempotency_key_for_firm, plan_import
from trigon_sync.client_import_rows import Action, ImportPlan, PlanRow
from trigon_sync.errors import ApiError, UsageError, WriteUnconfirmed
from trigon_sync.journal import ClientIntents
from trigon_sync.registry_codes import normalise_code
from trigon_sync.state import ClientLink, State, StateSession
from trigon_sync.trigon.client import TrigonClient
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.models import Client, ClientDraft, Member, UkuWarning
from trigon_sync.uku.settling import Settler

SAVE_EVERY = 25
"""Fewest applied rows between two saves of state.toml (see the module docstring)."""
MAX_SAVES = 20
"""Most batch saves of state.toml per confirm, however many rows (module docstring)."""
ATTEMPTS = 3
"""Creates of one client per confirm whose outcome stayed unknown before the row fails."""

NOTHING_STAGED_HINT = "run `trigon-sync import-clients` to read both sides and stage a plan"


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
        }


# --------------------------------------------------------------------------- import-clients

Step = Callable[[str], None]


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
    step("Planning")
    links = {trigon_id: link.uku_client_id for trigon_id, link in state.links.items()}
    return plan_import(firms, clients, links, register, owners)


def stage_plan(state: State, plan: ImportPlan, now: dt.datetime) -> None:
    """Keep ``plan`` in state for ``confirm`` (replacing any earlier staged plan)."""
    state.staged_import = {**plan.to_dict(), "staged_at": now.isoformat(timespec="seconds")}


def staged_plan(state: State) -> ImportPlan:
    """The plan ``import-clients`` staged; UsageError when there is none."""
    if state.staged_import is None:
        raise UsageError(
            "no import plan is staged, so there is nothing to confirm", hint=NOTHING_STAGED_HINT
        )
    return ImportPlan.from_dict(state.staged_import)


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


RowCallback = Callable[[RowResult], None]


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
    holders = {link.uku_client_id: trigon_id for trigon_id, link in state.links.items()}
    creator = _Creator(
        uku,
        settler,
        intents or ClientIntents(),
        manager_id,
    )
    creator.listed_at = creator.settler.now()
    listed = _by_code(uku.list_clients())
    results: list[RowResult] = []
    unsaved = 0
    batch = max(save_every, -(-len(selection.apply) // MAX_SAVES))
    warnings_before = len(uku.warnings)
    try:
        for row in selection.apply:
            result = _apply_row(row, state=state, holders=holders, listed=listed, creator=creator)
            if result.outcome in APPLIED and result.uku_client_id is not None:
                state.links[row.trigon_id] = ClientLink(
                    trigon_id=row.trigon_id,
                    registration_code=row.registration_code,
                    name=row.name,
                    uku_client_id=result.uku_client_id,
                    linked_at=now.date(),
                    flags=[str(flag) for flag in row.flags],
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
    )
    session.save()
    if clear_intents:
        creator.intents.clear()  # every create is linked in the state just saved
    return outcome


def _same_code(clients: Sequence[Client], code: str) -> list[Client]:
    return [c for c in clients if normalise_code(c.registration_code) == code]


def _by_code(clients: Sequence[Client]) -> dict[str, list[Client]]:
    """Uku clients by normalised code (however the code was typed into Uku)."""
    found: dict[str, list[Client]] = {}
    for client in clients:
        code = normalise_code(client.registration_code)
        if code is not None:
            found.setdefault(code, []).append(client)
    return found


def _apply_row(
    row: PlanRow,
    *,
    state: State,
    holders: dict[int, str],
    listed: Mapping[str, Sequence[Client]],
    creator: _Creator,
) -> RowResult:
    existing_link = state.links.get(row.trigon_id)
    if existing_link is not None:
        return RowResult(row, Outcome.ALREADY_LINKED, existing_link.uku_client_id)
    code = row.registration_code
    try:
        matches = list(listed.get(code, ()))
        if not matches and creator.listing_too_early(row.trigon_id):
            matches = creator.look_again(code, creator.pending[row.trigon_id])
        if len(matches) > 1:
            return _doubled(row, matches)
        if matches:
            return _link_existing(row, matches[0], holders)
        if row.action is Action.LINK:
            return _failed(
                row,
                f"Uku client {row.uku_client_id} no longer has code {code}; "
                "run import-clients again",
            )
        return creator.create(row)
    except ApiError as exc:
        return _failed(row, exc.message)


class _Creator:
    """Creates one firm's Uku client at most once, whatever Uku answers (or does not)."""

    def __init__(
        self, uku: UkuClient, settler: Settler, intents: ClientIntents, manager_id: int | None
    ) -> None:
        self.uku = uku
        self.settler = settler
        self.intents = intents
        self.manager_id = manager_id
        self.pending = intents.load()
        """Firms whose create an earlier confirm sent without seeing it linked."""
        self.listed_at: dt.datetime | None = None
        """When the full listing that decides this run was started."""

    def listing_too_early(self, trigon_id: str) -> bool:
        """Whether a create an earlier run sent for this firm may be missing from the full
        listing only because Uku had not listed it yet (else the listing answered)."""
        sent_at = self.pending.get(trigon_id)
        if sent_at is None:
            return False
        if self.listed_at is None:
            return True
        return (self.listed_at - sent_at).total_seconds() < self.settler.settle_seconds

    def look_again(self, code: str, sent_at: dt.datetime) -> list[Client]:
        """Uku's clients with ``code``, read once a create sent at ``sent_at`` would show."""
        self.settler.wait(sent_at)
        return _same_code(self.uku.list_clients(code), code)

    def create(self, row: PlanRow) -> RowResult:
        code = row.registration_code
        draft = ClientDraft(
            name=row.name,
            registration_code=code,
            vat_number=row.vat_number,
            country="EE",
            manager_id=self.manager_id,
        )
        for _ in range(ATTEMPTS):
            sent_at = self.settler.now()
            self.intents.intend(row.trigon_id, code, sent_at)
            try:
                created = self.uku.create_client(
                    draft, idempotency_key_for_firm(row.trigon_id, code)
                )
            except WriteUnconfirmed:
                found = self.look_again(code, self.settler.now())  # from the failure
                if len(found) == 1:
                    return RowResult(row, Outcome.CREATED, found[0].id)
                if found:
                    return _doubled(row, found)
                continue  # proven absent: create again
            return RowResult(row, Outcome.CREATED, created.id)
        return _failed(
            row,
            f"Uku did not confirm creating the client after {ATTEMPTS} attempts and does "
            "not list it; nothing more was sent — run confirm again later",
        )


def _link_existing(row: PlanRow, client: Client, holders: dict[int, str]) -> RowResult:
    holder = holders.get(client.id)
    if holder is not None and holder != row.trigon_id:
        return _failed(row, f"Uku client {client.id} is already linked to Trigon firm {holder}")
    if row.action is Action.LINK:
        if client.id != row.uku_client_id:
            return _failed(
                row,
                f"the plan links Uku client {row.uku_client_id}, but code {row.registration_code} "
                f"is now on Uku client {client.id}; run import-clients again",
            )
        return RowResult(row, Outcome.LINKED, client.id)
    return RowResult(row, Outcome.FOUND, client.id)


def _doubled(row: PlanRow, clients: Sequence[Client]) -> RowResult:
    ids = ", ".join(str(c.id) for c in clients)
    return _failed(
        row,
        f"Uku now has {len(clients)} clients with code {row.registration_code} ({ids}); "
        "remove the duplicate in Uku, then run import-clients again",
    )


def _failed(row: PlanRow, reason: str) -> RowResult:
    return RowResult(row, Outcome.FAILED, reason=reason)


def linked_by_code_or_id(state: State, query: str) -> ClientLink:
    """The one linked client whose registration code or Trigon id is exactly ``query``.

    Only exact codes or ids are accepted for removing a link — a part of a name could
    silently pick the wrong client.
    """
    wanted = normalise_code(query)
    matches = [
        link
        for link in state.links.values()
        if link.trigon_id == query.strip()
        or (wanted is not None and normalise_code(link.registration_code) == wanted)
    ]
    if not matches:
        raise UsageError(
            f"no linked client has the registration code or Trigon id {query!r}",
            hint="`trigon-sync clients` lists the linked ones",
        )
    if len(matches) > 1:
        listed = ", ".join(f"{link.name} (Trigon id {link.trigon_id})" for link in matches)
        raise UsageError(
            f"{query!r} matches {len(matches)} linked clients: {listed}",
            hint="give the Trigon id of the one to unlink",
        )
    return matches[0]


def unlink(state: State, query: str, now: dt.datetime) -> ClientLink:
    """Remove the link of the firm whose registration code or Trigon id is ``query``.

    The way out when a client leaves the firm or its View permission is gone for good:
    the monthly run counts the clients linked when it runs, so an unfinished period can
    complete without it. The Uku client itself is left as it is.
    """
    link = linked_by_code_or_id(state, query)
    del state.links[link.trigon_id]
    state.record(
        now,
        "unlink",
        "ok",
        trigon_id=link.trigon_id,
        registration_code=link.registration_code,
        name=link.name,
        uku_client_id=link.uku_client_id,
    )
    return link
