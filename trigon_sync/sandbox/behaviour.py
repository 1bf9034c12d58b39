"""How the sandbox Uku differs from our contract, on purpose: the real API's quirks.

Our sandbox follows docs/uku-api.md, which is what our client expects. The real Uku Public
API v3 (per the sources of Uku's own CLI, docs/uku-api.md "Evidence") differs in ways that
can double a task or a client. Each difference is one switch here, so a test can turn on
exactly the one it is about, and :data:`PRODUCTION_LIKE` turns on all of them at once.

The switches are read by the Uku app (uku_app.py) and the shared pipeline (the 429 code
and the rate-limit reset header); the in-memory store keeps the contract's shapes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UkuBehaviour:
    """One switch per known difference between the real Uku and our contract."""

    no_has_more: bool = False
    """List ``meta`` carries ``total``/``limit``/``offset`` but no ``has_more``."""
    epoch_rate_reset: bool = False
    """``X-RateLimit-Reset`` is the epoch second the window resets, not seconds until."""
    html_descriptions: bool = False
    """Task descriptions are stored as rich text and come back as HTML (``<p>``, ``<br>``,
    entities)."""
    integer_fields: bool = False
    """Every other count field is of type ``integer`` instead of ``number``."""
    no_complete_endpoint: bool = False
    """``POST /tasks/{id}/complete`` answers 404: completion is the status PATCH."""
    ignore_idempotency: bool = False
    """``Idempotency-Key`` is silently ignored on ``POST /clients`` and ``POST /tasks``."""
    list_lag_seconds: float = 0.0
    """A created client or task shows up in lists only this long after it was created."""
    real_error_codes: bool = False
    """Validation errors are 422 with ``details`` as a list of ``{field, message, type}``;
    a 429 says ``RATE_LIMIT_EXCEEDED``."""
    drop_unknown_filters: bool = False
    """Query filters the real API does not document are dropped, so a "filtered" list
    returns everything: ``registration_code`` and ``q`` on /clients; ``q``, ``client_id``,
    ``topic_id``, ``status`` on /tasks (the date range is kept: ``drop_date_filters``)."""
    drop_date_filters: bool = False
    """``date_from``/``date_to`` on /tasks are dropped too (no public source says Uku
    honours them), so a period's lookup meets every task of the company."""
    drop_sort: bool = False
    """``sort`` on /tasks is dropped: rows come in id order whatever is asked (Uku's CLI
    sends ``sort``, but its values are not documented)."""
    unkept_field_ids: tuple[int, ...] = ()
    """A fault (not part of the profile): values written to these task custom fields are
    silently not stored, as for a field Uku does not offer on the task's topic. What
    ``doctor --probe`` must catch before a run bills from it."""
    ignore_offset: bool = False
    """A broken deployment: every page is the first page (not part of the profile; the
    client must notice that paging does not advance and stop)."""

    def __post_init__(self) -> None:
        if self.list_lag_seconds < 0:
            raise ValueError("list_lag_seconds must not be negative")

    @property
    def rate_limit_code(self) -> str:
        return "RATE_LIMIT_EXCEEDED" if self.real_error_codes else "RATE_LIMITED"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> UkuBehaviour:
        """A copy with ``changes`` applied; unknown names are a ``ValueError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown Uku behaviours: {', '.join(unknown)}")
        values = dict(changes)
        if "unkept_field_ids" in values:
            values["unkept_field_ids"] = tuple(values["unkept_field_ids"])
        return dataclasses.replace(self, **values)


CONTRACT = UkuBehaviour()
"""Exactly docs/uku-api.md's contract (the default)."""

PRODUCTION_LIKE = UkuBehaviour(
    no_has_more=True,
    epoch_rate_reset=True,
    html_descriptions=True,
    integer_fields=True,
    no_complete_endpoint=True,
    ignore_idempotency=True,
    list_lag_seconds=2.0,
    real_error_codes=True,
    drop_unknown_filters=True,
    drop_date_filters=True,
)
"""Every documented difference of the real Uku at once (``ignore_offset`` is a fault)."""

PROFILES: dict[str, UkuBehaviour] = {"contract": CONTRACT, "production-like": PRODUCTION_LIKE}
SWITCHES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(UkuBehaviour) if f.type in ("bool", bool)
)
"""The on/off switches, by name (``sandbox serve --uku-quirk NAME``)."""


def profile(name: str) -> UkuBehaviour:
    """The named profile; ``ValueError`` listing the names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown sandbox profile {name!r} (profiles: {', '.join(PROFILES)})"
        ) from None
