"""Creating or linking one plan row's Uku client, at most once whatever Uku answers.

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
* **A home restored from a backup counts its unlinked creates as announced.** The
  backup's copy lacks the intents committed after its snapshot, so a planned create the
  state does not show linked may have been sent by the lost home without a line here. In
  such a home (store/restore_mark.py gives the moment) each of them is pending from that
  moment (:meth:`ClientCreator.assume_announced`), and one wait and one full listing
  answer them together (``importing.apply_plan``) before any is created.

:func:`apply_row` decides one row against the full listing (:func:`by_code`);
:class:`ClientCreator` sends the creates. ``client_import.apply_plan`` runs them over the
selection and saves the links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from trigon_sync.clients.confirm_results import Outcome, RowResult
from trigon_sync.clients.plan import idempotency_key_for_firm
from trigon_sync.errors import ApiError, WriteUnconfirmed
from trigon_sync.records.import_plan import Action, PlanRow
from trigon_sync.registration_codes import normalise_code
from trigon_sync.store.journal import ClientIntents
from trigon_sync.store.state import State
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.models import Client, ClientDraft
from trigon_sync.uku.settling import LOST_ANSWER_WAIT, Settler

ATTEMPTS = 3
"""Creates of one client per confirm whose outcome stayed unknown before the row fails."""


def _same_code(clients: Sequence[Client], code: str) -> list[Client]:
    return [c for c in clients if normalise_code(c.registration_code) == code]


def by_code(clients: Sequence[Client]) -> dict[str, list[Client]]:
    """Uku clients by normalised code (however the code was typed into Uku)."""
    found: dict[str, list[Client]] = {}
    for client in clients:
        code = normalise_code(client.registration_code)
        if code is not None:
            found.setdefault(code, []).append(client)
    return found


def apply_row(
    row: PlanRow,
    *,
    state: State,
    holders: dict[int, str],
    listed: Mapping[str, Sequence[Client]],
    creator: ClientCreator,
) -> RowResult:
    """One row: already linked, found in Uku by code (linked), or created; failures as results."""
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


class ClientCreator:
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

    def assume_announced(self, firms: Iterable[str], since: dt.datetime) -> None:
        """Count a create for each of ``firms`` as sent at ``since`` (or later, by its own
        intent): in a home restored from a backup, the lost home may have sent it after the
        copy's snapshot, its intent missing from the copy (store/restore_mark.py)."""
        for firm in firms:
            self.pending[firm] = max(self.pending.get(firm, since), since)

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
        self.settler.wait(sent_at, LOST_ANSWER_WAIT)
        return _same_code(self.uku.list_clients(code), code)

    def replayed(self, created: Client, code: str) -> bool:
        """Whether the client a create answered with is not (or no longer) this code's: an
        answer replayed for an Idempotency-Key Uku still remembers. Read by id, so a lagging
        list cannot hide it."""
        current = self.uku.get_client(created.id)
        return current is None or normalise_code(current.registration_code) != code

    def create(self, row: PlanRow) -> RowResult:
        code = row.registration_code
        draft = ClientDraft(
            name=row.name,
            registration_code=code,
            vat_number=row.vat_number,
            country="EE",
            manager_id=self.manager_id,
        )
        key = idempotency_key_for_firm(row.trigon_id, code)
        for _ in range(ATTEMPTS):
            sent_at = self.settler.now()
            self.intents.intend(row.trigon_id, code, sent_at)
            try:
                created = self.uku.create_client(draft, key)
            except WriteUnconfirmed:
                found = self.look_again(code, self.settler.now())  # from the failure
                if len(found) == 1:
                    return RowResult(row, Outcome.CREATED, found[0].id)
                if found:
                    return _doubled(row, found)
                continue  # proven absent: create again
            if self.replayed(created, code):
                # Uku answered with the client an earlier create under this key made, and
                # that client has since been re-coded for someone else (the firm was
                # unlinked because of it): never link it again. A key derived from the
                # replayed client asks for a new one, and a resumed confirm derives the same.
                key = idempotency_key_for_firm(row.trigon_id, code, replayed=created.id)
                continue
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
