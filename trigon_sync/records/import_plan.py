"""The rows of a client import plan and the plan as staged in state.toml.

What ``import-clients`` shows and ``confirm`` applies: one :class:`PlanRow` per Trigon
firm with its :class:`Action` and :class:`Flag` s (the rules that choose them are in
clients/plan.py), and :class:`ImportPlan`, which round-trips through state.toml
(``to_dict`` / ``from_dict``; a malformed staged plan is a StateError, never a crash).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from trigon_sync.errors import StateError

PLAN_VERSION = 1


class Action(enum.StrEnum):
    """What ``confirm`` does with one firm."""

    CREATE = "create"
    LINK = "link"
    LINKED = "linked"
    MISMATCH = "mismatch"
    """Linked, but the link no longer holds (clients/link_check.py); ``reason`` says why."""
    CONFLICT = "conflict"


class Flag(enum.StrEnum):
    """Heads-ups shown next to a row; the declaration order is the display order."""

    NOT_IN_REGISTER = "not_in_register"
    BAD_CHECK_DIGIT = "bad_check_digit"
    NO_VIEW_PERMISSION = "no_view_permission"
    NAME_DIFFERS = "name_differs"


FLAG_ORDER = {flag: i for i, flag in enumerate(Flag)}
"""Flags are listed in this order wherever a row shows them."""


class FirmLike(Protocol):
    """What the planner reads from a Trigon firm (``trigon.models.Firm`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def registration_code(self) -> str | None: ...
    @property
    def vat_number(self) -> str | None: ...
    @property
    def viewable(self) -> bool: ...


class ClientLike(Protocol):
    """What the planner reads from an Uku client (``uku.models.Client`` fits)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def registration_code(self) -> str | None: ...


@dataclass(frozen=True)
class FirmRecord:
    """A plain Trigon firm, for callers and tests without the API models."""

    id: str
    name: str
    registration_code: str | None
    vat_number: str | None = None
    viewable: bool = True


@dataclass(frozen=True)
class ClientRecord:
    """A plain Uku client, for callers and tests without the API models."""

    id: int
    name: str
    registration_code: str | None


@dataclass(frozen=True)
class Clash:
    """What a conflict row clashes with: another Trigon firm or an Uku client."""

    kind: str
    """``trigon_firm`` or ``uku_client``."""
    id: str | int
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "name": self.name}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Clash:
        kind = _typed(doc["kind"], str)
        ident = _typed(doc["id"], int if kind == "uku_client" else str)
        return cls(kind, ident, _typed(doc["name"], str))


@dataclass(frozen=True)
class PlanRow:
    """One firm's line in the plan.

    ``registration_code`` is the normalised code, or the raw text when it has none
    (then the row is a conflict). ``uku_client_id`` is set for link/linked/mismatch
    rows; ``reason`` explains a conflict or a mismatch; ``uku_name`` is the matched
    client's name.
    """

    trigon_id: str
    name: str
    registration_code: str
    action: Action
    flags: tuple[Flag, ...] = ()
    vat_number: str | None = None
    uku_client_id: int | None = None
    reason: str | None = None
    uku_name: str | None = None
    clashes: tuple[Clash, ...] = ()
    """For a conflict: the Trigon firms sharing the code, or the Uku clients in the way."""

    def has(self, flag: Flag) -> bool:
        return flag in self.flags

    def to_json(self) -> dict[str, Any]:
        """The ``import-clients --json`` object for this row (null when no Uku client)."""
        return {
            "trigon_id": self.trigon_id,
            "name": self.name,
            "registration_code": self.registration_code,
            "action": str(self.action),
            "flags": [str(flag) for flag in self.flags],
            "uku_client_id": self.uku_client_id,
            "reason": self.reason,
            "conflicts_with": [clash.to_dict() for clash in self.clashes],
        }

    def to_dict(self) -> dict[str, Any]:
        """A TOML-safe table: optional fields are omitted, never None."""
        doc: dict[str, Any] = {
            "trigon_id": self.trigon_id,
            "name": self.name,
            "registration_code": self.registration_code,
            "action": str(self.action),
            "flags": [str(flag) for flag in self.flags],
        }
        optional = {
            "vat_number": self.vat_number,
            "uku_client_id": self.uku_client_id,
            "reason": self.reason,
            "uku_name": self.uku_name,
        }
        doc.update({key: value for key, value in optional.items() if value is not None})
        if self.clashes:
            doc["clashes"] = [clash.to_dict() for clash in self.clashes]
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PlanRow:
        """Inverse of :meth:`to_dict`; raises StateError on anything malformed."""
        try:
            flags = tuple(
                sorted((Flag(f) for f in _list(doc.get("flags", []))), key=FLAG_ORDER.__getitem__)
            )
            return cls(
                trigon_id=_typed(doc["trigon_id"], str),
                name=_typed(doc["name"], str),
                registration_code=_typed(doc["registration_code"], str),
                action=Action(doc["action"]),
                flags=flags,
                vat_number=_optional(doc.get("vat_number"), str),
                uku_client_id=_optional(doc.get("uku_client_id"), int),
                reason=_optional(doc.get("reason"), str),
                uku_name=_optional(doc.get("uku_name"), str),
                clashes=tuple(Clash.from_dict(c) for c in _list(doc.get("clashes", []))),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise _bad_staged_plan(f"a row is malformed ({exc!r})") from None


@dataclass(frozen=True)
class PlanSummary:
    """Counts per action and per flag (every key present, zeros included)."""

    total: int
    actions: Mapping[Action, int]
    flags: Mapping[Flag, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "actions": {str(a): n for a, n in self.actions.items()},
            "flags": {str(f): n for f, n in self.flags.items()},
        }


@dataclass(frozen=True)
class ImportPlan:
    """One row per Trigon firm plus whether the Business Register was consulted.

    ``register_checked`` False means "register not checked": only check digits were
    verified, and the UI must say so instead of showing no red marks.
    """

    rows: tuple[PlanRow, ...]
    register_checked: bool

    @property
    def summary(self) -> PlanSummary:
        actions = Counter(row.action for row in self.rows)
        flags = Counter(flag for row in self.rows for flag in row.flags)
        return PlanSummary(
            total=len(self.rows),
            actions={action: actions.get(action, 0) for action in Action},
            flags={flag: flags.get(flag, 0) for flag in Flag},
        )

    def to_json(self) -> list[dict[str, Any]]:
        """The ``--json`` output: one object per firm."""
        return [row.to_json() for row in self.rows]

    def to_dict(self) -> dict[str, Any]:
        """The staged plan for ``state.toml`` (TOML-safe: no None anywhere)."""
        return {
            "version": PLAN_VERSION,
            "register_checked": self.register_checked,
            "rows": [row.to_dict() for row in self.rows],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ImportPlan:
        """Inverse of :meth:`to_dict`; raises StateError when the staged plan is unusable."""
        if not isinstance(doc, Mapping):
            raise _bad_staged_plan("it is not a table")
        if doc.get("version") != PLAN_VERSION:
            raise _bad_staged_plan(f"unknown plan version {doc.get('version')!r}")
        checked = doc.get("register_checked")
        if not isinstance(checked, bool):
            raise _bad_staged_plan("register_checked is missing")
        rows = doc.get("rows", [])
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise _bad_staged_plan("rows is not a list of tables")
        return cls(rows=tuple(PlanRow.from_dict(r) for r in rows), register_checked=checked)


def _bad_staged_plan(problem: str) -> StateError:
    return StateError(
        f"the staged import plan in state.toml is unusable: {problem}",
        hint="run `trigon-sync import-clients` again to stage a fresh plan",
    )


def _typed(value: Any, kind: type) -> Any:
    # bool is an int subclass; a client id of `true` is still malformed.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def _optional(value: Any, kind: type) -> Any:
    return None if value is None else _typed(value, kind)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value
