"""Trigon firms the admin deliberately does not import (``trigon-sync ignore``).

run-monthly mails the Trigon firms that are not linked to an Uku client, because each
gets no summary task and so no invoice. A firm the admin left out on purpose (a dormant
company, a duplicate kept in Trigon) would be re-announced every month and bury the
news; marking it ignored stops that, while ``status`` and ``import-clients`` keep
showing it. Pure: state in, state changed or a UsageError out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from trigon_sync.errors import UsageError
from trigon_sync.registration_codes import normalise_code
from trigon_sync.store.state import State

COMMAND = "ignore"


Firm = tuple[str, str, str]
"""(Trigon firm id, name, normalised registration code or the raw text)."""


def staged_firms(state: State) -> list[Firm] | None:
    """The firms of the staged import plan, or None when nothing is staged."""
    if state.staged_import is None:
        return None
    plan = state.staged_import.plan
    return [(row.trigon_id, row.name, row.registration_code) for row in plan.rows]


def _find(firms: Iterable[Firm], query: str) -> Firm:
    text = query.strip()
    code = normalise_code(text)
    listed = list(firms)
    found = [f for f in listed if f[0] == text] or [
        f for f in listed if code is not None and normalise_code(f[2]) == code
    ]
    if not found:
        raise UsageError(
            f"no Trigon firm {query!r} among the firms the Trigon user can list",
            hint="give a registration code or Trigon firm id that `import-clients` lists",
        )
    if len(found) > 1:
        ids = ", ".join(f"{firm_id} ({name})" for firm_id, name, _ in found)
        raise UsageError(
            f"registration code {code} belongs to several Trigon firms: {ids}",
            hint="give the Trigon firm id instead",
        )
    return found[0]


def ignore(state: State, firms: Iterable[Firm], query: str, now: dt.datetime) -> dict[str, Any]:
    """Mark the firm ``query`` names (code or Trigon id) among ``firms`` as ignored."""
    firm_id, name, code = _find(firms, query)
    if firm_id in state.links:
        raise UsageError(
            f"{name} is linked and counted every month, so there is nothing to ignore",
            hint="`trigon-sync unlink CODE` stops counting it first",
        )
    entry = {
        "name": name,
        "registration_code": code,
        "ignored_at": now.isoformat(timespec="seconds"),
    }
    state.ignored[firm_id] = entry
    state.record(now, COMMAND, "ok", firm=firm_id, name=name, registration_code=code)
    return entry


def unignore(state: State, query: str, now: dt.datetime) -> dict[str, Any]:
    """Announce an ignored firm again; its former entry."""
    text = query.strip()
    code = normalise_code(text)
    matches = [
        firm_id
        for firm_id, entry in state.ignored.items()
        if firm_id == text or (code is not None and entry.get("registration_code") == code)
    ]
    if len(matches) != 1:
        listed = ", ".join(sorted(state.ignored)) or "none"
        raise UsageError(
            f"{query!r} names {'no' if not matches else 'more than one'} ignored firm",
            hint=f"ignored Trigon firm ids: {listed}",
        )
    entry = state.ignored.pop(matches[0])
    state.record(now, f"{COMMAND} --undo", "ok", firm=matches[0], name=entry.get("name"))
    return entry
