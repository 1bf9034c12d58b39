"""What the Trigon client returns: small frozen dataclasses, parsed from the contract's JSON.

Parsing lives here (not in the client) so that a changed field name in production is a
one-place fix; see docs/trigon-api.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from trigon_sync import redact
from trigon_sync.errors import ApiError

Collection = Literal[
    "payments",
    "purchase-invoices",
    "sales-invoices",
    "financial-entries",
    "expense-lines",
    "depreciation-entries",
]
COLLECTIONS: tuple[Collection, ...] = get_args(Collection)
Event = Literal["created", "updated"]
EVENTS: tuple[Event, ...] = get_args(Event)
SnapshotKind = Literal["reporting-persons", "fixed-assets"]
SNAPSHOT_KINDS: tuple[SnapshotKind, ...] = get_args(SnapshotKind)
# The date parameter each snapshot endpoint takes.
SNAPSHOT_PARAM: dict[SnapshotKind, str] = {
    "reporting-persons": "as_of",
    "fixed-assets": "depreciable_on",
}


@dataclass(frozen=True)
class TrigonUser:
    """The connected Trigon user (from login or ``GET /me``)."""

    email: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class Firm:
    """One firm the user may List; ``registration_code`` is raw, as typed in Trigon."""

    id: str
    name: str
    registration_code: str | None
    vat_number: str | None
    permissions: frozenset[str]

    @property
    def viewable(self) -> bool:
        """Whether the role also grants View, i.e. its counts can be read."""
        return "view" in self.permissions


def unexpected_answer(what: str, obj: Any) -> ApiError:
    return ApiError(
        f"Trigon answered with an unexpected {what}: {redact.scrub(str(obj))[:200]}",
        status=200,
        hint="the Trigon API may have changed; see docs/trigon-api.md",
    )


def data_of(body: Any, what: str) -> Any:
    """The ``data`` member of a Trigon answer."""
    if not isinstance(body, Mapping) or "data" not in body:
        raise unexpected_answer(what, body)
    return body["data"]


_LINE_BREAKS = re.compile("[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def one_line_name(value: Any) -> str:
    """A firm's name as one line: a name carries no line break (one in Trigon's data could
    forge a line in cron mail), so any is read as a space."""
    return _LINE_BREAKS.sub(" ", str(value))


def firm_from_json(obj: Any) -> Firm:
    try:
        code = obj.get("registration_code")
        vat = obj.get("vat_number")
        return Firm(
            id=str(obj["id"]),
            name=one_line_name(obj["name"]),
            registration_code=str(code) if code is not None else None,
            vat_number=str(vat) if vat is not None else None,
            permissions=frozenset(str(p).lower() for p in obj.get("permissions") or ()),
        )
    except (AttributeError, KeyError, TypeError) as exc:
        raise unexpected_answer("firm object", obj) from exc


def user_from_json(obj: Any) -> TrigonUser:
    try:
        return TrigonUser(
            email=str(obj["email"]),
            name=one_line_name(obj.get("name") or ""),
            active=bool(obj.get("active", True)),
        )
    except (AttributeError, KeyError, TypeError) as exc:
        raise unexpected_answer("user object", obj) from exc


MAX_COUNT = 10_000_000
"""More records than this in one firm's month is not a count but a fault: Uku would
bill it, so it fails that client instead of being written."""


class ImpossibleCount(ApiError):
    """A count answer that cannot be a count; fails that client only, never written."""


def count_from_json(body: Any) -> int:
    """The ``count`` of a count answer: a non-negative integer below :data:`MAX_COUNT`."""
    data = data_of(body, "count answer")
    count = data.get("count") if isinstance(data, Mapping) else None
    if not isinstance(count, int) or isinstance(count, bool):
        shown = redact.scrub(repr(count))[:40]
        raise ImpossibleCount(
            f"Trigon answered a count that is not a whole number ({shown}); "
            "it was not written to Uku",
            status=200,
            hint="the Trigon API may have changed; see docs/trigon-api.md",
        )
    if not 0 <= count <= MAX_COUNT:
        raise ImpossibleCount(
            f"Trigon answered an impossible count {count} (allowed 0 to {MAX_COUNT}); "
            "it was not written to Uku",
            status=200,
            hint="check the firm in Trigon; run again once Trigon answers sensibly",
        )
    return count


@dataclass(frozen=True)
class Reach:
    """What the connected user can see: every listed firm and whether it is viewable."""

    firms: tuple[Firm, ...]

    @property
    def viewable(self) -> tuple[Firm, ...]:
        return tuple(f for f in self.firms if f.viewable)

    @property
    def not_viewable(self) -> tuple[Firm, ...]:
        return tuple(f for f in self.firms if not f.viewable)

    def summary(self) -> str:
        listed, hidden = len(self.firms), len(self.not_viewable)
        text = f"{listed} firm(s) listed, {listed - hidden} readable"
        return f"{text}, {hidden} listed without View permission" if hidden else text
