"""Which firm a query means: a registration code, a Trigon id or part of a name.

The rule "which firm does this code or id name" is written once, in :func:`named_by_code_or_id`:
a Trigon firm id names that firm; otherwise the text names every firm whose registration
code it is, both sides compared in the one normalised form (registration_codes.py), so
"12 345 678", "12.345.678" and "12345678" are the same code however either side typed it.
``unlink``, ``ignore`` and ``ignore --undo`` take only that (a part of a name could pick the
wrong firm); :func:`find_link` and :func:`find_staged`, for ``explain``, ``accept`` and
``report``, fall back to the name: an exact match wins; several partial ones are a
:class:`~trigon_sync.errors.UsageError` listing them, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from trigon_sync.clients.plan import firm_name_key
from trigon_sync.errors import TrigonSyncError, UsageError
from trigon_sync.records.import_plan import PlanRow
from trigon_sync.registration_codes import normalise_code
from trigon_sync.store.state import ClientLink, State

T = TypeVar("T")


def named_by_code_or_id(query: str, firms: Iterable[tuple[str, str | None, T]]) -> list[T]:
    """The items of the firms (Trigon id, registration code, item) that ``query`` names.

    The firm whose Trigon id ``query`` is, alone: an id names one firm even where its text
    could be read as a code. Otherwise every firm whose registration code ``query`` is in
    any spelling (none when ``query`` is no code): several mean the code is shared, and
    only the Trigon id tells those firms apart.
    """
    text = query.strip()
    listed = list(firms)
    by_id = [item for firm_id, _, item in listed if firm_id == text]
    if by_id:
        return by_id
    wanted = normalise_code(text)
    if wanted is None:
        return []
    return [item for _, code, item in listed if normalise_code(code) == wanted]


def _part_of_name(query: str, name: str) -> bool:
    """Whether ``query`` is the start of a word of ``name`` onwards: "Oru" is Oru Aed AS,
    not Saare Torutööd AS."""
    key = firm_name_key(query)
    return bool(key) and f" {firm_name_key(name)}".find(f" {key}") >= 0


def _pick(query: str, candidates: Sequence[tuple[str, str, str, Any]]) -> Any | None:
    """The one candidate (name, code, id, item) the query means; UsageError if ambiguous."""
    by_code = named_by_code_or_id(query, [(c[2], c[1], c) for c in candidates])
    exact = by_code or [c for c in candidates if firm_name_key(c[0]) == firm_name_key(query)]
    found = exact or [c for c in candidates if _part_of_name(query, c[0])]
    if len(found) > 1:
        # Two firms may share a registration code: then only the Trigon firm id tells them apart.
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
