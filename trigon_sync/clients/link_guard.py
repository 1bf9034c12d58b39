"""Reading what the link check needs: the Uku clients once per run, the firms' codes.

The rules are clients/link_check.py (pure). Here the Uku client listing is paged once (the
caller may pass the one it already read), and only a linked client missing from it is
asked for by id: Uku's lists lag behind a create (docs/sandbox.md, production-like), so a
client linked a moment ago is not called gone on the listing alone. Links of another
company are not looked up at all: their ids mean nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from trigon_sync.clients.link_check import company_of, link_problems
from trigon_sync.store.state import ClientLink
from trigon_sync.trigon.models import Firm
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.models import Client


def check_links(
    uku: UkuClient,
    links: Iterable[ClientLink],
    firms: Iterable[Firm],
    clients: Sequence[Client] | None = None,
) -> dict[str, str]:
    """Firm id -> why its link no longer holds (link_check.link_problems), for ``links``
    against the company ``uku`` is connected to; ``clients`` is Uku's client listing
    when the caller has already read it."""
    links = list(links)
    company = uku.company
    here = [link for link in links if company_of(link, company) == company]
    found: dict[int, Client] = {}
    if here:
        listing = uku.list_clients() if clients is None else clients
        found = {client.id: client for client in listing}
        for link in here:
            if link.uku_client_id not in found:
                client = uku.get_client(link.uku_client_id)
                if client is not None:
                    found[client.id] = client
    codes = {firm.id: firm.registration_code for firm in firms}
    return link_problems(links, company=company, clients=found, firm_codes=codes)
