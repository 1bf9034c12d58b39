"""The client import plan: which Trigon firm becomes, joins or already is which Uku client.

Pure: firms, clients, links and an optional register index in; an :class:`ImportPlan`
out. Nothing here talks to an API, prints or reads the clock, so every matching rule
is tested directly and ``confirm`` applies exactly what the user reviewed.

Matching is on the normalised registration code only (names drift, codes do not).
One action per firm, decided in this order:

``linked``
    state already links the firm to an Uku client: nothing to do.
``conflict``
    a human must decide, and nothing is ever applied automatically:
    the firm has no usable code ("no valid registration code": without a code it
    cannot be matched, and creating it could duplicate a client already in Uku);
    another Trigon firm has the same code (every unlinked firm sharing it is a
    conflict, unless the admin names the code's owner with ``--owner``); two or more
    Uku clients have the code; or the one matching Uku client is already linked to a
    different firm. A conflict row names what it clashes with (``clashes``).
``link``
    exactly one Uku client has the code: connect it instead of creating a twin.
``create``
    no Uku client has the code.

Flags never change the action (red-X rows are imported like the rest):
``not_in_register`` (register checked and the code is absent or unusable),
``bad_check_digit`` (python-stdnum rejects the code), ``no_view_permission``
(listed but its data is unreadable, so counts would fail), and ``name_differs``
(the matched Uku client's name equals neither the Trigon name nor the register's
name, ignoring case, whitespace and quote marks).
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from trigon_sync.errors import StateError, UsageError
from trigon_sync.registry_codes import has_valid_check_digit, normalise_code

if TYPE_CHECKING:
    from trigon_sync.business_register import RegisterIndex

PLAN_VERSION = 1


class Action(enum.StrEnum):
    """What ``confirm`` does with one firm."""

    CREATE = "create"
    LINK = "link"
    LINKED = "linked"
    CONFLICT = "conflict"


class Flag(enum.StrEnum):
    """Heads-ups shown next to a row; the declaration order is the display order."""

    NOT_IN_REGISTER = "not_in_register"
    BAD_CHECK_DIGIT = "bad_check_digit"
    NO_VIEW_PERMISSION = "no_view_permission"
    NAME_DIFFERS = "name_differs"


_FLAG_ORDER = {flag: i for i, flag in enumerate(Flag)}


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
    (then the row is a conflict). ``uku_client_id`` is set for link/linked rows;
    ``reason`` explains a conflict; ``uku_name`` is the matched client's name.
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
                sorted((Flag(f) for f in _list(doc.get("flags", []))), key=_FLAG_ORDER.__getitem__)
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


# --------------------------------------------------------------------------- planning

_QUOTES = re.compile(r"[\"'`´«»„“”‟‚‘’‛″]")
_SPACES = re.compile(r"\s+")


def name_key(name: str) -> str:
    """A name reduced for comparison: case, spacing and quote marks do not matter.

    NFKC first so that a composed "Õ" and "O" + combining tilde compare equal.
    """
    text = unicodedata.normalize("NFKC", name)
    text = _QUOTES.sub("", text).casefold()
    return _SPACES.sub(" ", text).strip()


def plan_import(
    firms: Iterable[FirmLike],
    clients: Iterable[ClientLike],
    links: Mapping[str, int],
    register: RegisterIndex | None = None,
    owners: Mapping[str, str] | None = None,
) -> ImportPlan:
    """Decide one action per firm (rules in the module docstring).

    ``links`` maps Trigon firm id -> Uku client id as recorded in state. ``register``
    None means the Business Register was not checked. ``owners`` maps a registration
    code several Trigon firms share to the one firm the admin chose as its owner
    (``import-clients --owner CODE=FIRM``): that firm is planned as if it were alone
    with the code, the others stay conflicts. Rows keep the firms' order; a firm id
    listed twice (e.g. a repeated page) yields one row.
    """
    unique: dict[str, FirmLike] = {}
    for firm in firms:
        unique.setdefault(firm.id, firm)
    codes = {firm_id: normalise_code(firm.registration_code) for firm_id, firm in unique.items()}

    firms_by_code: dict[str, list[str]] = defaultdict(list)
    for firm_id, code in codes.items():
        if code is not None:
            firms_by_code[code].append(firm_id)
    chosen = check_owners(owners or {}, firms_by_code)
    names = {firm_id: firm.name for firm_id, firm in unique.items()}

    client_list = list(clients)
    clients_by_code: dict[str, list[ClientLike]] = defaultdict(list)
    for client in client_list:
        code = normalise_code(client.registration_code)
        if code is not None:
            clients_by_code[code].append(client)
    clients_by_id = {client.id: client for client in client_list}
    linked_firm_of: dict[int, str] = {}
    for firm_id, client_id in links.items():
        linked_firm_of.setdefault(client_id, firm_id)

    rows = [
        _plan_row(
            firm,
            codes[firm_id],
            links=links,
            firms_by_code=firms_by_code,
            clients_by_code=clients_by_code,
            clients_by_id=clients_by_id,
            linked_firm_of=linked_firm_of,
            register=register,
            owners=chosen,
            names=names,
        )
        for firm_id, firm in unique.items()
    ]
    return ImportPlan(rows=tuple(rows), register_checked=register is not None)


def check_owners(
    owners: Mapping[str, str], firms_by_code: Mapping[str, list[str]]
) -> dict[str, str]:
    """The owner choices, normalised; UsageError listing every one that does not fit
    (the code is not shared, or the firm does not have it)."""
    chosen: dict[str, str] = {}
    problems: list[str] = []
    for raw_code, firm_id in owners.items():
        code = normalise_code(raw_code)
        sharing = firms_by_code.get(code or "", [])
        if code is None or len(sharing) < 2:
            problems.append(f"{raw_code} is not a registration code several Trigon firms share")
        elif firm_id not in sharing:
            problems.append(
                f"Trigon firm {firm_id} does not have code {code} (firms with it: "
                f"{', '.join(sharing)})"
            )
        else:
            chosen[code] = firm_id
    if problems:
        raise UsageError(
            "--owner: " + "; ".join(problems),
            hint="give --owner CODE=TRIGON_FIRM_ID for a code `import-clients` shows as "
            "shared (see its conflicts_with in --json)",
        )
    return chosen


@dataclass
class _Decision:
    action: Action
    client: ClientLike | None = None
    client_id: int | None = None
    reason: str | None = None
    flags: set[Flag] = field(default_factory=set)
    clashes: list[Clash] = field(default_factory=list)


def _plan_row(
    firm: FirmLike,
    code: str | None,
    *,
    links: Mapping[str, int],
    firms_by_code: Mapping[str, list[str]],
    clients_by_code: Mapping[str, list[ClientLike]],
    clients_by_id: Mapping[int, ClientLike],
    linked_firm_of: Mapping[int, str],
    register: RegisterIndex | None,
    owners: Mapping[str, str],
    names: Mapping[str, str],
) -> PlanRow:
    decision = _decide(
        firm,
        code,
        links,
        firms_by_code,
        clients_by_code,
        clients_by_id,
        linked_firm_of,
        owners,
        names,
    )
    entry = register.lookup(code) if register is not None and code is not None else None
    flags = decision.flags
    if register is not None and entry is None:
        flags.add(Flag.NOT_IN_REGISTER)
    if code is not None and not has_valid_check_digit(code):
        flags.add(Flag.BAD_CHECK_DIGIT)
    if not firm.viewable:
        flags.add(Flag.NO_VIEW_PERMISSION)
    if decision.client is not None:
        accepted = {name_key(firm.name)}
        if entry is not None:
            accepted.add(name_key(entry.name))
        if name_key(decision.client.name) not in accepted:
            flags.add(Flag.NAME_DIFFERS)
    raw = (firm.registration_code or "").strip()
    return PlanRow(
        trigon_id=firm.id,
        name=firm.name,
        registration_code=code if code is not None else raw,
        action=decision.action,
        flags=tuple(sorted(flags, key=_FLAG_ORDER.__getitem__)),
        vat_number=(firm.vat_number or "").strip() or None,
        uku_client_id=decision.client_id,
        reason=decision.reason,
        uku_name=decision.client.name if decision.client is not None else None,
        clashes=tuple(decision.clashes),
    )


def _decide(
    firm: FirmLike,
    code: str | None,
    links: Mapping[str, int],
    firms_by_code: Mapping[str, list[str]],
    clients_by_code: Mapping[str, list[ClientLike]],
    clients_by_id: Mapping[int, ClientLike],
    linked_firm_of: Mapping[int, str],
    owners: Mapping[str, str],
    names: Mapping[str, str],
) -> _Decision:
    if firm.id in links:
        client_id = links[firm.id]
        return _Decision(Action.LINKED, clients_by_id.get(client_id), client_id)
    if code is None:
        raw = (firm.registration_code or "").strip()
        why = f"no valid registration code ({raw!r})" if raw else "no registration code in Trigon"
        return _Decision(Action.CONFLICT, reason=why)
    others = [other for other in firms_by_code[code] if other != firm.id]
    owner = owners.get(code)
    if others and owner != firm.id:
        reason = f"registration code also used by Trigon firm(s) {', '.join(others)}"
        if owner is not None:
            reason = f"registration code {code} was given to Trigon firm {owner} (--owner)"
        return _Decision(
            Action.CONFLICT,
            reason=reason,
            clashes=[Clash("trigon_firm", other, names.get(other, "")) for other in others],
        )
    matches = clients_by_code.get(code, [])
    if len(matches) > 1:
        ids = ", ".join(str(client.id) for client in matches)
        return _Decision(
            Action.CONFLICT,
            reason=f"registration code matches Uku clients {ids}",
            clashes=[Clash("uku_client", client.id, client.name) for client in matches],
        )
    if matches:
        client = matches[0]
        holder = linked_firm_of.get(client.id)
        if holder is not None and holder != firm.id:
            return _Decision(
                Action.CONFLICT,
                reason=f"Uku client {client.id} is already linked to Trigon firm {holder}",
                clashes=[
                    Clash("uku_client", client.id, client.name),
                    Clash("trigon_firm", holder, names.get(holder, "")),
                ],
            )
        return _Decision(Action.LINK, client, client.id)
    return _Decision(Action.CREATE)


# --------------------------------------------------------------------------- confirm helpers


@dataclass(frozen=True)
class Selection:
    """What ``confirm`` will do with a plan after ``--skip`` / ``--only``.

    ``apply`` holds create and link rows in plan order; ``skipped`` the create/link
    rows the user deselected; ``conflicts`` and ``linked`` are never applied.
    """

    apply: tuple[PlanRow, ...]
    skipped: tuple[PlanRow, ...]
    conflicts: tuple[PlanRow, ...]
    linked: tuple[PlanRow, ...]

    @property
    def creates(self) -> tuple[PlanRow, ...]:
        return tuple(row for row in self.apply if row.action is Action.CREATE)

    @property
    def links(self) -> tuple[PlanRow, ...]:
        return tuple(row for row in self.apply if row.action is Action.LINK)


def _parse_codes(values: Sequence[str], option: str) -> list[str]:
    codes: list[str] = []
    bad: list[str] = []
    for value in values:
        code = normalise_code(value)
        if code is None:
            bad.append(value)
        else:
            codes.append(code)
    if bad:
        raise UsageError(
            f"{option} {', '.join(repr(v) for v in bad)}: not a registration code",
            hint="give the 8-digit Estonian registration code as shown by import-clients",
        )
    return codes


def select_rows(plan: ImportPlan, skip: Sequence[str] = (), only: Sequence[str] = ()) -> Selection:
    """Apply the user's ``--skip`` / ``--only`` codes to the plan.

    Every code must be in the plan (a typo must not silently import everything);
    ``--only`` naming a code whose rows are all conflicts is refused too, since
    conflicts are never applied. Raises UsageError listing every bad code at once.
    """
    skip_codes = set(_parse_codes(skip, "--skip"))
    only_codes = set(_parse_codes(only, "--only"))
    by_code: dict[str, list[PlanRow]] = defaultdict(list)
    for row in plan.rows:
        by_code[row.registration_code].append(row)
    unknown = sorted((skip_codes | only_codes) - by_code.keys())
    if unknown:
        raise UsageError(
            f"not in the staged import plan: {', '.join(unknown)}",
            hint="run `trigon-sync import-clients` to see the codes in the plan",
        )
    blocked = sorted(
        code for code in only_codes if all(row.action is Action.CONFLICT for row in by_code[code])
    )
    if blocked:
        raise UsageError(
            f"--only {', '.join(blocked)}: conflict rows are never applied",
            hint="resolve the duplicate in Trigon or Uku, then run import-clients again",
        )

    apply: list[PlanRow] = []
    skipped: list[PlanRow] = []
    for row in plan.rows:
        if row.action not in (Action.CREATE, Action.LINK):
            continue
        chosen = (not only_codes or row.registration_code in only_codes) and (
            row.registration_code not in skip_codes
        )
        (apply if chosen else skipped).append(row)
    return Selection(
        apply=tuple(apply),
        skipped=tuple(skipped),
        conflicts=tuple(row for row in plan.rows if row.action is Action.CONFLICT),
        linked=tuple(row for row in plan.rows if row.action is Action.LINKED),
    )


def idempotency_key_for_firm(trigon_id: str, code: str) -> str:
    """The Idempotency-Key for creating this firm's Uku client; the same on every run.

    Derived only from the firm (never a timestamp or counter) so a retried or resumed
    ``confirm`` replays the first create instead of making a second client.
    """
    digest = hashlib.sha256(f"{trigon_id}\x1f{code}".encode()).hexdigest()
    return f"trigon-sync-client-{digest[:40]}"
