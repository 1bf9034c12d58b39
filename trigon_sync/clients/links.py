"""Changing client links: removing one by its exact code or Trigon id (``unlink``), recording
the Uku company links were made in, and forgetting the links of another company
(``connect-uku --drop-links``)."""

from __future__ import annotations

import datetime as dt
import functools

from trigon_sync import clock
from trigon_sync.clients.link_check import elsewhere
from trigon_sync.clients.lookup import named_by_code_or_id
from trigon_sync.errors import UsageError
from trigon_sync.store import owed
from trigon_sync.store.state import ClientLink, State


def linked_by_code_or_id(state: State, query: str) -> ClientLink:
    """The one linked client whose registration code or Trigon id is exactly ``query``.

    Only exact codes or ids are accepted for removing a link — a part of a name could
    silently pick the wrong client.
    """
    links = state.links.values()
    matches = named_by_code_or_id(
        query, [(link.trigon_id, link.registration_code, link) for link in links]
    )
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
    complete without it. The Uku client itself is left as it is. The periods it still
    owes are dropped for good with the unlink's record (store/owed.py), so linking it
    again later counts it from the next period, never those.
    """
    link = linked_by_code_or_id(state, query)
    dropped = [pair.period for pair in owed.pairs(firm=link.trigon_id)]
    del state.links[link.trigon_id]
    state.new_effects.append(
        functools.partial(
            owed.drop_unlinked, firm=link.trigon_id, on=now.astimezone(clock.TALLINN).date()
        )
    )
    state.record(
        now,
        "unlink",
        "ok",
        trigon_id=link.trigon_id,
        registration_code=link.registration_code,
        name=link.name,
        uku_client_id=link.uku_client_id,
        dropped_periods=dropped or None,
    )
    return link


def stamp_company(state: State, company: str) -> int:
    """Record ``company`` on every link that has no Uku company yet; how many.

    Links made before trigon-sync recorded the company are taken to be in the company
    configured when this version first changes the state (ClientLink.uku_company).
    """
    stamped = 0
    for link in state.links.values():
        if link.uku_company is None:
            link.uku_company = company
            stamped += 1
    return stamped


def drop_links_elsewhere(
    state: State, company: str, assumed: str | None, now: dt.datetime
) -> list[ClientLink]:
    """Forget the links made in another Uku company than ``company`` (``connect-uku
    --drop-links``); the dropped links.

    Their Uku client ids mean nothing in ``company``: kept, they would put tasks onto
    unrelated clients. The firms are matched again by registration code by the next
    ``import-clients`` and ``confirm`` (or the automatic import). A staged import plan
    may stay: ``confirm`` matches each row by code again in the company it writes to.
    """
    dropped = elsewhere(state.links.values(), company, assumed)
    for link in dropped:
        del state.links[link.trigon_id]
    stamp_company(state, company)
    state.record(
        now,
        "connect-uku --drop-links",
        "ok",
        company=company,
        dropped=len(dropped),
        firms=[link.trigon_id for link in dropped],
    )
    return dropped
