"""Is each linked Uku client still that firm's client? Checked before anything is written.

A link (state.toml) is a Trigon firm id and an Uku client id, recorded once by ``confirm``;
every month's task goes onto that Uku client. The office changes the world under it:

* trigon-sync is connected to another Uku company than the one the link was made in, so
  the client id names another company's client;
* the Uku client was deleted or archived;
* the Uku client's record was re-used for another customer (its registration code is no
  longer the firm's);
* the firm's registration code changed in Trigon since it was linked (the link may now
  be to the wrong Uku client, or the new code may belong to another one).

Each is a reason that client fails (nothing is written onto its Uku client; the other
clients go on), naming the command that resolves it. None of them is resolved silently:
the admin chooses between linking again (``unlink``, then ``import-clients`` and
``confirm``, which match by the current code) and stopping the count (``unlink``).
``import-clients`` shows the same links as ``mismatch`` with the same reason.

Codes are compared in the one normalised form (registry_codes.normalise_code). A link
whose recorded code is not a registration code (made by hand) is compared by the firm's
current code; one with neither cannot be checked by code and is checked only for its
company and its Uku client's existence.

Pure: links, the company, the Uku clients found and the firms' current codes in; reasons
out.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from trigon_sync.registration_codes import normalise_code

if TYPE_CHECKING:
    from trigon_sync.records.import_plan import ClientLike
    from trigon_sync.store.state import ClientLink

RELINK = "`trigon-sync import-clients` and `trigon-sync confirm`"


def company_of(link: ClientLink, assumed: str | None) -> str | None:
    """The Uku company ``link`` was made in; ``assumed`` for a link that predates the
    record of it (the company configured when this version first met it)."""
    return link.uku_company or assumed


def elsewhere(links: Iterable[ClientLink], company: str, assumed: str | None) -> list[ClientLink]:
    """The links made in another Uku company than ``company`` (``assumed``: see
    :func:`company_of`; a link of no known company is not counted)."""
    return [
        link
        for link in links
        if (linked_in := company_of(link, assumed)) is not None and linked_in != company
    ]


def unlink_args(links: Iterable[ClientLink]) -> dict[str, str]:
    """What to type after ``trigon-sync unlink`` for each link (by firm id): its code when
    no other link has it, else its Trigon id, quoted for a shell."""
    links = list(links)
    codes = Counter(normalise_code(link.registration_code) for link in links)
    return {
        link.trigon_id: code
        if (code := normalise_code(link.registration_code)) is not None and codes[code] == 1
        else shlex.quote(link.trigon_id)
        for link in links
    }


def link_problems(
    links: Iterable[ClientLink],
    *,
    company: str,
    clients: Mapping[int, ClientLike],
    firm_codes: Mapping[str, str | None],
) -> dict[str, str]:
    """Firm id -> why its link no longer holds, for every link that fails the check.

    ``company`` is the Uku company connected now (a link without a recorded company is
    taken to be in it); ``clients`` the Uku clients of that company by id (a linked id
    missing here is gone); ``firm_codes`` the firms' codes in Trigon now, as listed (a
    firm missing here is not listed: its code is not compared).
    """
    links = list(links)
    args = unlink_args(links)
    problems: dict[str, str] = {}
    for link in links:
        problem = link_problem(
            link,
            company=company,
            client=clients.get(link.uku_client_id),
            firm_listed=link.trigon_id in firm_codes,
            firm_code=firm_codes.get(link.trigon_id),
            unlink_arg=args[link.trigon_id],
        )
        if problem is not None:
            problems[link.trigon_id] = problem
    return problems


def link_problem(
    link: ClientLink,
    *,
    company: str,
    client: ClientLike | None,
    firm_listed: bool,
    firm_code: str | None,
    unlink_arg: str,
) -> str | None:
    """Why this one link no longer holds (None: it does); the order is the order of
    consequence: another company, a client gone, a code changed in Trigon, in Uku."""
    unlink = f"`trigon-sync unlink {unlink_arg}`"
    linked_in = company_of(link, company)
    if linked_in != company:
        return (
            f"linked in Uku company {linked_in}, but trigon-sync is connected to company "
            f"{company}, where Uku client {link.uku_client_id} is not this firm's client: "
            f"nothing is written onto it; connect back with `trigon-sync connect-uku "
            f"--company {linked_in}`, or link it in this company: {unlink}, then {RELINK}"
        )
    if client is None:
        return (
            f"Uku client {link.uku_client_id} is no longer in Uku (deleted or archived): "
            f"nothing is written; {unlink} stops counting it, then {RELINK} link or create "
            "it again"
        )
    recorded = normalise_code(link.registration_code)
    current = normalise_code(firm_code) if firm_listed else recorded
    if firm_listed and recorded is not None and current != recorded:
        raw = (firm_code or "").strip()
        now = current or (f"{raw!r}, not a registration code" if raw else "none")
        return (
            f"its registration code in Trigon changed from {recorded} to {now} since it was "
            f"linked to Uku client {link.uku_client_id}: nothing is written until you choose: "
            f"to link the firm by its new code, {unlink}, then {RELINK}; to stop counting "
            f"it, {unlink}"
        )
    expected = recorded or current
    held = normalise_code(client.registration_code)
    if expected is not None and held != expected:
        shown = held or (repr(client.registration_code) if client.registration_code else "none")
        return (
            f"Uku client {link.uku_client_id} ({client.name}) now has registration code "
            f"{shown}, not the firm's {expected}: the Uku record may have been re-used for "
            "another customer, so nothing is written onto it; if the code in Uku is a typo, "
            f"correct it there; otherwise {unlink}, then {RELINK} link the firm to its own "
            "Uku client"
        )
    return None
