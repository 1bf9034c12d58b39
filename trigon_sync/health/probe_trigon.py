"""``doctor --probe`` against Trigon: one page of each endpoint the tool reads, checked
against docs/trigon-api.md's JSON Schemas (trigon/contract.py).

Trigon publishes nothing, so the first real installation would otherwise find a changed
shape by failing every client on an import day. Read-only, like every call to Trigon: the
user, the first page of the firm list, then one readable firm (the first the list marks
``view``) and each count the run asks for: the six collections, created and updated, and
the two snapshots. Every difference of every answer is listed, never only the first; an
error answer is a difference too (with its own shape checked against the error schema).
A connection error (401, 403 about the user) still stops the probe: ``connect`` first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trigon_sync.errors import ApiError
from trigon_sync.http.session import ApiResponse
from trigon_sync.trigon import TrigonClient
from trigon_sync.trigon.client import PER_PAGE
from trigon_sync.trigon.contract import Shape, differences
from trigon_sync.trigon.models import COLLECTIONS, EVENTS, SNAPSHOT_KINDS, SNAPSHOT_PARAM


@dataclass(frozen=True)
class TrigonContact:
    """What one probe found: each difference one line naming its request, and notes."""

    differences: tuple[str, ...]
    endpoints: int
    """How many requests were checked."""
    notes: tuple[str, ...] = ()


def _check(label: str, shape: Shape, response: ApiResponse, out: list[str]) -> None:
    if response.ok:
        out.extend(f"{label}: {d}" for d in differences(shape, response.body))
        return
    code = response.error_code or "no error code"
    out.append(f"{label}: HTTP {response.status} ({code}) instead of the documented answer")
    out.extend(f"{label}: error body {d}" for d in differences("error", response.body))


def _readable_firm(body: Any) -> str | None:
    """The id of the first listed firm with View, read leniently (the list's own
    differences are reported separately)."""
    rows = body.get("data") if isinstance(body, Mapping) else None
    for row in rows if isinstance(rows, list) else ():
        if not isinstance(row, Mapping):
            continue
        permissions = row.get("permissions")
        firm_id = row.get("id")
        if isinstance(permissions, list) and "view" in permissions and firm_id:
            return str(firm_id)
    return None


def probe_trigon(trigon: TrigonClient, today: dt.date) -> TrigonContact:
    """Read one page of each endpoint the tool uses; see the module docstring."""
    found: list[str] = []
    checked = 0

    def read(label: str, shape: Shape, *parts: str, params: Mapping[str, Any] | None = None) -> Any:
        nonlocal checked
        checked += 1
        try:
            response = trigon.answer(*parts, params=params)
        except ApiError as exc:  # not JSON, too large: the answer is no answer
            found.append(f"{label}: {exc.message}")
            return None
        _check(label, shape, response, found)
        return response.body if response.ok else None

    read("GET /me", "me", "me")
    firms = read("GET /firms", "firms", "firms", params={"page": 1, "per_page": PER_PAGE})
    firm_id = _readable_firm(firms)
    if firm_id is None:
        note = "no firm on the first page of GET /firms is readable: its counts were not checked"
        return TrigonContact(tuple(found), checked, (note,))
    read("GET /firms/{id}", "firm", "firms", firm_id)
    start, end = today.replace(day=1) - dt.timedelta(days=1), today - dt.timedelta(days=1)
    start = start.replace(day=1)
    for collection in COLLECTIONS:
        for event in EVENTS:
            params = {f"{event}_from": start.isoformat(), f"{event}_to": end.isoformat()}
            label = f"GET /firms/{{id}}/{collection}/count ({event})"
            read(label, "count", "firms", firm_id, collection, "count", params=params)
    for kind in SNAPSHOT_KINDS:
        params = {SNAPSHOT_PARAM[kind]: end.isoformat()}
        read(
            f"GET /firms/{{id}}/{kind}/count",
            "count",
            "firms",
            firm_id,
            kind,
            "count",
            params=params,
        )
    return TrigonContact(tuple(found), checked)
