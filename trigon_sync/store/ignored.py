"""Trigon firms the admin deliberately does not import: their entries in state.toml.

``[ignored.<Trigon firm id>]`` holds ``name``, ``registration_code`` and ``ignored_at``.
Which firm a command means, and whether it may be ignored, is decided by the caller
(clients/ignoring.py); this module only writes the entry and the history line.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from trigon_sync.store.state import State

COMMAND = "ignore"


def add(state: State, firm_id: str, name: str, code: str, now: dt.datetime) -> dict[str, Any]:
    """Record the firm as ignored; its new entry."""
    entry = {
        "name": name,
        "registration_code": code,
        "ignored_at": now.isoformat(timespec="seconds"),
    }
    state.ignored[firm_id] = entry
    state.record(now, COMMAND, "ok", firm=firm_id, name=name, registration_code=code)
    return entry


def remove(state: State, firm_id: str, now: dt.datetime) -> dict[str, Any]:
    """Drop the firm's entry (it is announced again); the entry it had."""
    entry = state.ignored.pop(firm_id)
    state.record(now, f"{COMMAND} --undo", "ok", firm=firm_id, name=entry.get("name"))
    return entry
