"""Which client a support query means: a registration code, a Trigon id or part of a name.

Used by ``explain``, ``accept`` and ``report`` on the linked clients, and by ``explain``
on the staged import for a client not linked yet. An exact match wins; several partial
ones are a :class:`~trigon_sync.errors.UsageError` listing them, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trigon_sync.clients.plan import name_key
from trigon_sync.errors import TrigonSyncError, UsageError
from trigon_sync.records.import_plan import PlanRow
from trigon_sync.registration_codes import normalise_code
from trigon_sync.store.state import ClientLink, State


def _matches(query: str, name: str, code: str, ids: Sequence[str]) -> tuple[bool, bool]:
    """(exact, partial) match of a code, id or name against the query."""
    wanted = normalise_code(query)
    if wanted is not None and normalise_code(code) == wanted:
        return True, True
    if query.strip() in ids:
        return True, True
    key, other = name_key(query), name_key(name)
    # Part of a name counts from the start of a word: "Oru" is Oru Aed AS, not Saare Torutööd AS.
    return key == other, bool(key) and f" {other}".find(f" {key}") >= 0


def _pick(query: str, candidates: Sequence[tuple[str, str, str, Any]]) -> Any | None:
    """The one candidate (name, code, id, item) the query means; UsageError if ambiguous."""
    exact = [c for c in candidates if _matches(query, c[0], c[1], (c[2],))[0]]
    found = exact or [c for c in candidates if _matches(query, c[0], c[1], (c[2],))[1]]
    if len(found) > 1:
        # Two firms may share a registration code: then only the Trigon firm id tells them apart.
        by_code = normalise_code(query) is not None and len({c[1] for c in found}) == 1
        listed = "; ".join(
            f"{name} ({ident if by_code else code or ident})" for name, code, ident, _ in found[:10]
        )
        if len(found) > 10:
            listed += f" and {len(found) - 10} more"
        raise UsageError(
            f"{query!r} matches {len(found)} clients: {listed}",
            hint="give the Trigon firm id shown in brackets"
            if by_code
            else "give the registration code, or more of the name",
        )
    return found[0][3] if found else None


def find_link(state: State, query: str) -> ClientLink | None:
    """The linked client a registration code, Trigon id or (part of a) name refers to."""
    links = [
        (link.name, link.registration_code, link.trigon_id, link) for link in state.links.values()
    ]
    return _pick(query, links)


def find_staged(state: State, query: str) -> PlanRow | None:
    """The client's row in a staged import (``import-clients`` run, not confirmed)."""
    if state.staged_import is None:
        return None
    try:
        plan = state.staged_import.plan
    except TrigonSyncError:
        return None
    rows = [(row.name, row.registration_code, row.trigon_id, row) for row in plan.rows]
    return _pick(query, rows)


def find_firm(query: str, firms: Sequence[tuple[str, str, str, str]]) -> str | None:
    """The Trigon id of the one firm among ``firms`` (name, code, Trigon id, Trigon id) the
    query means: any firm the records know, linked or not (billing/firm_state.candidates)."""
    found: str | None = _pick(query, firms)
    return found
