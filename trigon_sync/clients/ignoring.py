"""Which Trigon firm ``trigon-sync ignore`` means, and whether it may be ignored.

run-monthly mails the Trigon firms that are not linked to an Uku client, because each
gets no summary task and so no invoice. A firm the admin left out on purpose (a dormant
company, a duplicate kept in Trigon) would be re-announced every month and bury the
news; marking it ignored stops that, while ``status`` and ``import-clients`` keep
showing it. The firm is found by the one rule for a code or Trigon id
(:func:`~trigon_sync.clients.lookup.named_by_code_or_id`), for ``ignore`` and for
``ignore --undo`` alike; store/ignored.py writes the entry. Pure: state in, state
changed or a UsageError out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from trigon_sync.clients.lookup import named_by_code_or_id
from trigon_sync.errors import UsageError
from trigon_sync.records.import_plan import FirmLike
from trigon_sync.registration_codes import normalise_code
from trigon_sync.store import ignored
from trigon_sync.store.state import State

Firm = tuple[str, str, str]
"""(Trigon firm id, name, normalised registration code or the raw text), as a plan row has it."""


def staged_firms(state: State) -> list[Firm] | None:
    """The firms of the staged import plan, or None when nothing is staged."""
    if state.staged_import is None:
        return None
    plan = state.staged_import.plan
    return [(row.trigon_id, row.name, row.registration_code) for row in plan.rows]


def listed_firms(firms: Iterable[FirmLike]) -> list[Firm]:
    """The firms of Trigon's list, each code in the form a plan row keeps it."""
    found: list[Firm] = []
    for firm in firms:
        raw = (firm.registration_code or "").strip()
        found.append((firm.id, firm.name, normalise_code(raw) or raw))
    return found


def ignore(state: State, firms: Iterable[Firm], query: str, now: dt.datetime) -> dict[str, Any]:
    """Mark the firm ``query`` names (code or Trigon id) among ``firms`` as ignored."""
    found = named_by_code_or_id(query, [(firm[0], firm[2], firm) for firm in firms])
    if not found:
        raise UsageError(
            f"no Trigon firm {query!r} among the firms the Trigon user can list",
            hint="give a registration code or Trigon firm id that `import-clients` lists",
        )
    if len(found) > 1:
        ids = ", ".join(f"{firm_id} ({name})" for firm_id, name, _ in found)
        raise UsageError(
            f"registration code {normalise_code(query)} belongs to several Trigon firms: {ids}",
            hint="give the Trigon firm id instead",
        )
    firm_id, name, code = found[0]
    if firm_id in state.links:
        raise UsageError(
            f"{name} is linked and counted every month, so there is nothing to ignore",
            hint="`trigon-sync unlink CODE` stops counting it first",
        )
    return ignored.add(state, firm_id, name, code, now)


def unignore(state: State, query: str, now: dt.datetime) -> dict[str, Any]:
    """Announce an ignored firm again (``query``: its code or Trigon id); its former entry."""
    entries = state.ignored.items()
    found = named_by_code_or_id(
        query, [(firm_id, entry.get("registration_code"), firm_id) for firm_id, entry in entries]
    )
    if len(found) != 1:
        listed = ", ".join(sorted(state.ignored)) or "none"
        raise UsageError(
            f"{query!r} names {'no' if not found else 'more than one'} ignored firm",
            hint=f"ignored Trigon firm ids: {listed}",
        )
    return ignored.remove(state, found[0], now)
