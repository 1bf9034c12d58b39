"""The client import plan: which Trigon firm becomes, joins or already is which Uku client.

Pure: firms, clients, links and an optional register index in; an :class:`ImportPlan`
out (its rows, actions and flags are defined in records/import_plan.py). Nothing here
talks to an API, prints or reads the clock, so every matching rule is tested directly
and ``confirm`` applies exactly what the user reviewed.

Matching is on the normalised registration code only (names drift, codes do not).
One action per firm, decided in this order:

``mismatch``
    state links the firm to an Uku client, but the link no longer holds (another Uku
    company, the client gone, a registration code changed in Uku or Trigon:
    clients/link_check.py); the reason names the command that resolves it. Never applied.
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

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trigon_sync.errors import UsageError
from trigon_sync.records.import_plan import (
    FLAG_ORDER,
    Action,
    Clash,
    ClientLike,
    FirmLike,
    Flag,
    ImportPlan,
    PlanRow,
)
from trigon_sync.registration_codes import has_valid_check_digit, normalise_code

if TYPE_CHECKING:
    from trigon_sync.business_register.index import RegisterIndex

# --------------------------------------------------------------------------- planning

_QUOTES = re.compile(r"[\"'`´«»„“”‟‚‘’‛″]")
_SPACES = re.compile(r"\s+")


def firm_name_key(name: str) -> str:
    """A firm's name reduced for comparison: case, spacing and quote marks do not matter.

    Trigon, Uku and the Business Register each type a company's name (``"Oru Aed" OÜ``,
    ``Oru Aed OÜ``, fullwidth or decomposed letters), so the comparison is looser than
    settings/naming.py's :func:`~trigon_sync.settings.naming.label_key` for Uku field and
    topic labels, where a quote is part of the label the admin chose. NFKC first so that a
    composed "Õ" and "O" + combining tilde compare equal.
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
    *,
    mismatched: Mapping[str, str] | None = None,
) -> ImportPlan:
    """Decide one action per firm (rules in the module docstring).

    ``links`` maps Trigon firm id -> Uku client id as recorded in state. ``register``
    None means the Business Register was not checked. ``owners`` maps a registration
    code several Trigon firms share to the one firm the admin chose as its owner
    (``import-clients --owner CODE=FIRM``): that firm is planned as if it were alone
    with the code, the others stay conflicts. ``mismatched`` maps a linked firm id to why
    its link no longer holds (link_check.link_problems). Rows keep the firms' order; a firm id
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
            mismatched=mismatched or {},
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
    mismatched: Mapping[str, str],
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
        mismatched,
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
        accepted = {firm_name_key(firm.name)}
        if entry is not None:
            accepted.add(firm_name_key(entry.name))
        if firm_name_key(decision.client.name) not in accepted:
            flags.add(Flag.NAME_DIFFERS)
    raw = (firm.registration_code or "").strip()
    return PlanRow(
        trigon_id=firm.id,
        name=firm.name,
        registration_code=code if code is not None else raw,
        action=decision.action,
        flags=tuple(sorted(flags, key=FLAG_ORDER.__getitem__)),
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
    mismatched: Mapping[str, str],
    firms_by_code: Mapping[str, list[str]],
    clients_by_code: Mapping[str, list[ClientLike]],
    clients_by_id: Mapping[int, ClientLike],
    linked_firm_of: Mapping[int, str],
    owners: Mapping[str, str],
    names: Mapping[str, str],
) -> _Decision:
    if firm.id in links:
        client_id = links[firm.id]
        if firm.id in mismatched:
            # No name comparison against a client that is not (or no longer) the firm's.
            return _Decision(Action.MISMATCH, None, client_id, reason=mismatched[firm.id])
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
    rows the user deselected; ``conflicts``, ``linked`` and ``mismatched`` are never
    applied.
    """

    apply: tuple[PlanRow, ...]
    skipped: tuple[PlanRow, ...]
    conflicts: tuple[PlanRow, ...]
    linked: tuple[PlanRow, ...]
    mismatched: tuple[PlanRow, ...] = ()
    unviewable: tuple[PlanRow, ...] = ()
    """Create/link rows left out because the Trigon user may not View the firm (it could
    not be counted); ``--include CODE`` or ``--only CODE`` chooses one explicitly."""

    @property
    def flagged(self) -> tuple[PlanRow, ...]:
        """Applied rows with a flag that matters for counting or billing (no View, not in
        the register, bad check digit): ``confirm`` warns about each before it writes."""
        return tuple(row for row in self.apply if set(row.flags) & set(WARNED_FLAGS))

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


def select_rows(
    plan: ImportPlan,
    skip: Sequence[str] = (),
    only: Sequence[str] = (),
    include: Sequence[str] = (),
) -> Selection:
    """Apply the user's ``--skip`` / ``--only`` / ``--include`` codes to the plan.

    A firm the Trigon user may not View is not selected by default (as conflicts are
    not): its every period would fail and be owed. ``--include CODE`` (or ``--only CODE``)
    chooses it explicitly.

    Every code must be in the plan (a typo must not silently import everything);
    ``--only`` naming a code whose rows are all conflicts is refused too, since
    conflicts are never applied. Raises UsageError listing every bad code at once.
    """
    skip_codes = set(_parse_codes(skip, "--skip"))
    only_codes = set(_parse_codes(only, "--only"))
    include_codes = set(_parse_codes(include, "--include"))
    by_code: dict[str, list[PlanRow]] = defaultdict(list)
    for row in plan.rows:
        by_code[row.registration_code].append(row)
    unknown = sorted((skip_codes | only_codes | include_codes) - by_code.keys())
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
    unviewable: list[PlanRow] = []
    for row in plan.rows:
        if row.action not in (Action.CREATE, Action.LINK):
            continue
        code = row.registration_code
        chosen = (not only_codes or code in only_codes) and (code not in skip_codes)
        explicit = code in only_codes or code in include_codes
        if chosen and row.has(Flag.NO_VIEW_PERMISSION) and not explicit:
            unviewable.append(row)
            continue
        (apply if chosen else skipped).append(row)
    return Selection(
        unviewable=tuple(unviewable),
        apply=tuple(apply),
        skipped=tuple(skipped),
        conflicts=tuple(row for row in plan.rows if row.action is Action.CONFLICT),
        linked=tuple(row for row in plan.rows if row.action is Action.LINKED),
        mismatched=tuple(row for row in plan.rows if row.action is Action.MISMATCH),
    )


WARNED_FLAGS = (Flag.NO_VIEW_PERMISSION, Flag.NOT_IN_REGISTER, Flag.BAD_CHECK_DIGIT)
"""The flags ``confirm`` warns about, one line per selected firm, before it writes."""


def idempotency_key_for_firm(trigon_id: str, code: str, *, replayed: int | None = None) -> str:
    """The Idempotency-Key for creating this firm's Uku client; the same on every run.

    Derived only from the firm (never a timestamp or counter) so a retried or resumed
    ``confirm`` replays the first create instead of making a second client. ``replayed``:
    the client Uku answered with for the plain key that is no longer this firm's (re-coded
    for another customer); the key derived from it asks for a new client, as deterministic.
    """
    text = f"{trigon_id}\x1f{code}" + ("" if replayed is None else f"\x1f{replayed}")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"trigon-sync-client-{digest[:40]}"
