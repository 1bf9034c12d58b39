"""What ``doctor --probe`` measured about Uku, judged: the quirks it shows, the facts that
would break exactly once, and how the run may use the rest.

Pure: measurements in, judgements out; no I/O (store/probe_facts.py keeps the JSON,
health/probe_uku.py measures). Each quirk name is the sandbox switch that reproduces it
(sandbox/behaviour.py), so a test can switch one on and expect the probe to name exactly
that one.

How the facts change the run (docs/operations.md, "Probing Uku"):

- a measured list lag sets the settle wait: the lag plus a margin of half the lag, at least
  :data:`MIN_MARGIN` seconds, and never below :data:`SETTLE_FLOOR` (a lag measured once may
  be longer on a busy night);
- a mapped field whose value did not come back, or an identity token Uku did not keep,
  makes ``run-monthly`` refuse to write (:class:`~trigon_sync.errors.UkuUnsafe`) until a
  new probe finds otherwise: the run would otherwise fail every client or double a task;
- ``POST /tasks/{id}/complete`` found served finishes tasks the way Uku means it;
- a kept Idempotency-Key is reported but never trusted alone: every create is still
  announced, read back and looked up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

SETTLE_FLOOR = 5.0
"""Seconds: the shortest settle wait a measured lag may set."""
MIN_MARGIN = 3.0
"""Seconds: the least margin added to a measured lag."""
LAG_NOTICE = 0.1
"""A list lag below this many seconds counts as none (the probe's polling granularity)."""
FILTERS = ("client_id", "topic_id", "date")
"""The GET /tasks filters the run uses; the date one is ``date_from``/``date_to``."""


@dataclass(frozen=True)
class FieldRoundTrip:
    """One mapped custom field: what was written and what Uku gave back."""

    key: str
    name: str
    type: str
    written: int
    read_back: Any
    kept: bool


@dataclass(frozen=True)
class ProbeFacts:
    """Everything one probe measured; ``None`` means not measured (the line says why)."""

    probed_at: str
    """ISO date-time of the probe (Tallinn)."""
    fields: tuple[FieldRoundTrip, ...] = ()
    token_kept: bool | None = None
    description_html: bool | None = None
    """Uku returned the description as HTML (the token still read as plain text)."""
    filters: Mapping[str, bool | None] = field(default_factory=dict)
    """Filter -> honoured (True), dropped (False), not measured (None)."""
    list_lag_seconds: float | None = None
    idempotency_replayed: bool | None = None
    complete_served: bool | None = None
    has_more: bool | None = None
    rate_limit: Mapping[str, str] = field(default_factory=dict)
    """The ``X-RateLimit-*`` headers of one read and one write answer (``read.Limit`` …)."""
    rate_reset_epoch: bool | None = None
    validation_shape: str | None = None
    """``contract`` (400, ``details.fields``) or ``real`` (422, a list)."""
    openapi: tuple[str, ...] | None = None
    """Differences between Uku's OpenAPI document and what the client sends; None when
    the document is not served."""
    trigon: tuple[str, ...] | None = None
    """Differences between Trigon's answers and docs/trigon-api.md's schemas."""
    left_behind: tuple[int, ...] = ()
    """Probe tasks that could not be deleted: delete them by hand in Uku."""
    notes: tuple[str, ...] = ()

    # -- judgements ---------------------------------------------------------------

    @property
    def fields_not_kept(self) -> tuple[FieldRoundTrip, ...]:
        return tuple(f for f in self.fields if not f.kept)

    @property
    def breaking(self) -> tuple[str, ...]:
        """Facts that would break exactly once: each one line naming what."""
        out = [
            f"Uku did not keep the value of the mapped field {f.name!r} ({f.key}): "
            f"wrote {f.written}, read back {f.read_back!r}"
            for f in self.fields_not_kept
        ]
        if self.token_kept is False:
            out.append("Uku did not keep the identity token in the task description")
        return tuple(out)

    @property
    def quirks(self) -> tuple[str, ...]:
        """How Uku differs from docs/uku-api.md's contract, by sandbox switch name."""
        found: list[str] = []
        if self.has_more is False:
            found.append("no_has_more")
        if self.rate_reset_epoch:
            found.append("epoch_rate_reset")
        if self.description_html:
            found.append("html_descriptions")
        if any(f.type == "integer" for f in self.fields):
            found.append("integer_fields")
        if self.complete_served is False:
            found.append("no_complete_endpoint")
        if self.idempotency_replayed is False:
            found.append("ignore_idempotency")
        if self.list_lag_seconds is not None and self.list_lag_seconds >= LAG_NOTICE:
            found.append("list_lag_seconds")
        if self.validation_shape == "real":
            found.append("real_error_codes")
        if any(v is False for k, v in self.filters.items() if k != "date"):
            found.append("drop_unknown_filters")
        if self.filters.get("date") is False:
            found.append("drop_date_filters")
        return tuple(found)

    def settle_seconds(self, configured: float) -> float:
        """The settle wait the run uses: from the measured lag when there is one."""
        if self.list_lag_seconds is None:
            return configured
        lag = self.list_lag_seconds
        return max(SETTLE_FLOOR, lag + max(MIN_MARGIN, lag / 2))

    def honoured(self, name: str) -> bool:
        return self.filters.get(name) is True

    def age_days(self, today: dt.date) -> int:
        return (today - dt.datetime.fromisoformat(self.probed_at).date()).days

    # -- JSON ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = [asdict(f) for f in self.fields]
        data["filters"] = dict(self.filters)
        data["rate_limit"] = dict(self.rate_limit)
        for name in ("openapi", "trigon", "left_behind", "notes"):
            value = getattr(self, name)
            data[name] = None if value is None else list(value)
        data["quirks"] = list(self.quirks)
        data["breaking"] = list(self.breaking)
        return data


def facts_from_json(data: Mapping[str, Any]) -> ProbeFacts:
    """The stored facts; ``ValueError``/``KeyError``/``TypeError`` when they are not."""
    known = {
        "token_kept",
        "description_html",
        "list_lag_seconds",
        "idempotency_replayed",
        "complete_served",
        "has_more",
        "rate_reset_epoch",
        "validation_shape",
    }
    plain: dict[str, Any] = {k: data[k] for k in known if k in data}
    dt.datetime.fromisoformat(str(data["probed_at"]))
    lists: dict[str, Any] = {
        name: None if data.get(name) is None else tuple(data[name])
        for name in ("openapi", "trigon")
    }
    return ProbeFacts(
        probed_at=str(data["probed_at"]),
        fields=tuple(FieldRoundTrip(**f) for f in data.get("fields") or ()),
        filters=dict(data.get("filters") or {}),
        rate_limit={str(k): str(v) for k, v in (data.get("rate_limit") or {}).items()},
        left_behind=tuple(int(i) for i in data.get("left_behind") or ()),
        notes=tuple(str(n) for n in data.get("notes") or ()),
        **lists,
        **plain,
    )
