"""Where a Trigon firm stands with trigon-sync, linked or not, and what changes it.

Support asks "why has this client no task?" about firms that are not linked as often as
about linked ones: unlinked after a failed period, skipped at ``confirm``, ignored, in a
shared-code conflict, listed without View. Each of those is recorded somewhere on disk (the
links, ``state.ignored``, the staged import plan, the history records of ``unlink``,
``confirm`` and ``ignore``); :func:`firm_state` reads them all and names one
:class:`FirmState`: what it is, since when, which command caused it and the one command
that changes it. Pure: state (and the failures by period) in, a FirmState out.

"Owes a period": a period this client failed in and has no task for (store/owed.py: the
window moved on for the others), or an open period it failed in; since the Tallinn date it
first became owed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trigon_sync.billing.explain_records import Failure
from trigon_sync.dates import format_ee_time
from trigon_sync.errors import TrigonSyncError
from trigon_sync.records import periods as period_record
from trigon_sync.records.import_plan import Action, Flag, PlanRow
from trigon_sync.records.tables import RunRecord
from trigon_sync.store import owed as owed_pairs
from trigon_sync.store.state import ClientLink, State

GONE_FROM_TRIGON = ("not found in Trigon", "does not exist or the Trigon user may not list it")
"""How a run's failure says the firm is no longer listed (monthly/plan.firm_problem, or
trigon.FirmNotFound when Trigon answers 404 for its counts)."""
NO_VIEW = "no View permission"
"""How a run's failure says the Trigon user may not View the firm (monthly/plan.py,
trigon.FirmNotViewable)."""


class Standing(enum.StrEnum):
    """Where a firm stands."""

    LINKED = "linked"
    """Linked and counted every period."""
    OWES_PERIOD = "owes_period"
    """Linked, and a period stays open because the run failed for it."""
    GONE_FROM_TRIGON = "gone_from_trigon"
    """Linked, but the last run found the firm no longer listed in Trigon."""
    UNLINKED = "unlinked"
    """Was linked; ``trigon-sync unlink`` removed the link."""
    SKIPPED = "skipped"
    """Left out at ``trigon-sync confirm`` (``--skip`` or not in ``--only``)."""
    IGNORED = "ignored"
    """Marked with ``trigon-sync ignore``."""
    CONFLICT = "conflict"
    """The staged import cannot import it: its code is missing or shared."""
    NO_VIEW = "no_view"
    """Listed in Trigon, but the Trigon user may not View it."""
    NOT_IMPORTED = "not_imported"
    """In Trigon (the staged import lists it) but never confirmed."""


@dataclass(frozen=True)
class FirmState:
    """One firm's standing: what, since when, caused by which command, changed by which."""

    standing: Standing
    trigon_id: str
    name: str
    registration_code: str
    since: str
    """When it came to be (ISO date or date-time), as the records say; "" when unknown."""
    caused_by: str
    """The command that caused it, as typed."""
    fix: str
    """The one command that changes it."""
    detail: str
    """One sentence for people."""
    periods: tuple[str, ...] = ()
    """The periods it owes (linked), or that it still owed when it stopped being counted:
    dropped at its unlink (store/owed.py), or failed before it was left out."""
    clashes: tuple[dict[str, Any], ...] = ()
    """For a conflict: the firms or Uku clients it clashes with."""

    @property
    def periods_label(self) -> str:
        """What :attr:`periods` are, for people: only a linked client owes a period."""
        if self.standing in (Standing.OWES_PERIOD, Standing.GONE_FROM_TRIGON):
            return "owes"
        if self.standing is Standing.UNLINKED:
            return "dropped at unlink (no task, not retried)"
        return "failed in, no task"

    def to_json(self) -> dict[str, Any]:
        return {
            "standing": str(self.standing),
            "trigon_id": self.trigon_id,
            "name": self.name,
            "registration_code": self.registration_code,
            "since": self.since or None,
            "caused_by": self.caused_by,
            "fix": self.fix,
            "detail": self.detail,
            "periods": list(self.periods),
            "conflicts_with": list(self.clashes),
        }


@dataclass(frozen=True)
class _Event:
    """A recorded change of one firm: unlink, skip at confirm, ignore."""

    kind: str
    at: str
    firm: str
    name: str
    code: str
    reason: str = ""
    """For a conflict at confirm: why the firm could not be imported."""
    clashes: tuple[dict[str, Any], ...] = ()
    """For a conflict at confirm: the firms or Uku clients it clashed with."""


_LEFT_OUT = {"skipped_firms": "skip", "conflict_firms": "conflict", "unviewable_firms": "no_view"}
"""A confirm record's lists of firms it did not import, and the event each one is."""


def _events(history: Sequence[RunRecord]) -> list[_Event]:
    """Every unlink, confirm skip and ignore in the history, oldest first."""
    found: list[_Event] = []
    for record in history:
        details = record.details
        if record.command == "unlink":
            found.append(
                _Event(
                    "unlink",
                    record.at,
                    str(details.get("trigon_id") or ""),
                    str(details.get("name") or ""),
                    str(details.get("registration_code") or ""),
                )
            )
        elif record.command == "confirm":
            for key, kind in _LEFT_OUT.items():
                found.extend(
                    _left_out(kind, record.at, item)
                    for item in details.get(key) or ()
                    if isinstance(item, Mapping)
                )
        elif record.command in ("ignore", "ignore --undo"):
            found.append(
                _Event(
                    record.command,
                    record.at,
                    str(details.get("firm") or ""),
                    str(details.get("name") or ""),
                    str(details.get("registration_code") or ""),
                )
            )
    return [event for event in found if event.firm]


def _left_out(kind: str, at: str, item: Mapping[str, Any]) -> _Event:
    clashes = item.get("conflicts_with") or ()
    return _Event(
        kind,
        at,
        str(item.get("firm") or ""),
        str(item.get("name") or ""),
        str(item.get("registration_code") or ""),
        str(item.get("reason") or ""),
        tuple(dict(c) for c in clashes if isinstance(c, Mapping)),
    )


def candidates(state: State) -> list[tuple[str, str, str, str]]:
    """(name, registration code, Trigon id, Trigon id) of every firm the records know,
    for clients/lookup.py's matching: linked, staged, ignored, unlinked or skipped."""
    seen: dict[str, tuple[str, str]] = {}
    for event in _events(state.history):
        seen[event.firm] = (event.name, event.code)
    for firm, entry in state.ignored.items():
        seen[firm] = (str(entry.get("name") or ""), str(entry.get("registration_code") or ""))
    for row in _staged_rows(state):
        seen[row.trigon_id] = (row.name, row.registration_code)
    for link in state.links.values():
        seen[link.trigon_id] = (link.name, link.registration_code)
    return [(name, code, firm, firm) for firm, (name, code) in seen.items()]


def _staged_rows(state: State) -> tuple[PlanRow, ...]:
    if state.staged_import is None:
        return ()
    try:
        return state.staged_import.plan.rows
    except TrigonSyncError:
        return ()


def _code(code: str, firm: str) -> str:
    """What to type to name the firm on the command line: its code, else its Trigon id."""
    return code if code and code.isdigit() else firm


def firm_state(
    state: State, firm: str, failures: Mapping[str, Sequence[Failure]], done: Sequence[str]
) -> FirmState | None:
    """Where the firm ``firm`` (a Trigon id) stands; None when no record names it.

    ``failures``: period -> the runs that failed for it (explain_records.failures_by_period);
    ``done``: the periods whose journal holds a line (a task) for it.
    """
    link = state.links.get(firm)
    if link is not None:
        return _linked(state, link, failures, done)
    ignored = state.ignored.get(firm)
    events = [e for e in _events(state.history) if e.firm == firm]
    row = next((r for r in _staged_rows(state) if r.trigon_id == firm), None)
    # the periods it failed in and has no task for, less those an admin waived
    waived = {p.period for p in owed_pairs.pairs(status="waived", firm=firm)}
    dropped = {p.period for p in owed_pairs.pairs(status="dropped", firm=firm)}
    owed = tuple(sorted({p for p in failures if p not in done and p not in waived} | dropped))
    if ignored is not None:
        name = str(ignored.get("name") or "")
        code = _code(str(ignored.get("registration_code") or ""), firm)
        return FirmState(
            Standing.IGNORED,
            firm,
            name,
            str(ignored.get("registration_code") or ""),
            str(ignored.get("ignored_at") or ""),
            f"trigon-sync ignore {code}",
            f"trigon-sync ignore {code} --undo",
            f"{name} was marked ignored: it is not imported, gets no summary task and "
            "run-monthly no longer announces it",
            owed,
        )
    staged_at = state.staged_import.staged_at if state.staged_import is not None else ""
    recorded = ("unlink", "skip", "conflict", "no_view")
    last = next((e for e in reversed(events) if e.kind in recorded), None)
    if row is not None and (last is None or _staged_after(row, last)):
        return _staged(row, staged_at, owed, last)
    if last is not None:
        return _recorded(last, owed, row)
    return None


def _staged_after(row: PlanRow, last: _Event) -> bool:
    """Whether the staged plan was made after the recorded change ``last``.

    Decided by what the plan holds, not by times kept to the second (a test, or a quick
    admin, does both within one): ``confirm`` consumes the staged plan, so one staged now
    came after a skip; a plan that still shows the firm linked predates its unlink."""
    if last.kind in ("skip", "conflict", "no_view"):  # recorded by a confirm
        return True
    return row.action not in (Action.LINKED, Action.MISMATCH)


def _linked(
    state: State,
    link: ClientLink,
    failures: Mapping[str, Sequence[Failure]],
    done: Sequence[str],
) -> FirmState:
    code = _code(link.registration_code, link.trigon_id)
    completed = set(period_record.completed_periods(state))
    # an open period a linked client failed in and has no task in, and every completed
    # period it owes (store/owed.py: the window moved on for the others)
    recorded = {p.period: p for p in owed_pairs.pairs(firm=link.trigon_id)}
    owed = tuple(
        sorted(
            {p for p in failures if p not in completed and p not in done and failures[p]}
            | set(recorded)
        )
    )
    base = (link.trigon_id, link.name, link.registration_code)
    if owed:
        newest = owed[-1]
        last = (
            failures[newest][-1]
            if failures.get(newest)
            else Failure(recorded[newest].since, recorded[newest].reason)
        )
        # since the Tallinn date it first became owed (store/owed.py), as status shows it
        since = recorded[owed[0]].since if owed[0] in recorded else last.at
        if any(marker in last.reason for marker in GONE_FROM_TRIGON):
            return FirmState(
                Standing.GONE_FROM_TRIGON,
                *base,
                since,
                "trigon-sync run-monthly",
                f"trigon-sync unlink {code}",
                f"the run on {format_ee_time(last.at)} no longer found {link.name} in Trigon "
                f"({last.reason}); period {', '.join(owed)} stays open until it is counted or "
                "unlinked (if the firm is back or the user may List it again, the next run "
                "counts it)",
                owed,
            )
        fix = (
            "grant View for this firm to the Trigon user's role in Trigon; the next "
            "`trigon-sync run-monthly` retries it"
            if NO_VIEW in last.reason
            else "fix the cause; the next `trigon-sync run-monthly` retries it"
        )
        return FirmState(
            Standing.OWES_PERIOD,
            *base,
            since,
            "trigon-sync run-monthly",
            fix,
            f"{link.name} owes period {', '.join(owed)}: the run on {format_ee_time(last.at)} "
            f"failed for it ({last.reason}); the others went on, and every "
            f"`trigon-sync run-monthly` retries it first on the period's own window: fix the "
            f"cause, `trigon-sync waive {code} --period P --reason TEXT`, or "
            f"`trigon-sync unlink {code}` if it has left the firm",
            owed,
        )
    return FirmState(
        Standing.LINKED,
        *base,
        link.linked_at.isoformat(),
        "trigon-sync confirm",
        f"trigon-sync unlink {code}",
        f"{link.name} is linked to Uku client {link.uku_client_id} and counted every period",
    )


def _staged(row: PlanRow, staged_at: str, owed: tuple[str, ...], last: _Event | None) -> FirmState:
    code = _code(row.registration_code, row.trigon_id)
    base = (row.trigon_id, row.name, row.registration_code)
    earlier = ""
    if last is not None:
        what = "unlinked" if last.kind == "unlink" else "skipped at confirm"
        earlier = f"; it was {what} on {format_ee_time(last.at)}"
    if owed:
        earlier += f"; it failed in period {', '.join(owed)} and has no task there"
    if row.action is Action.CONFLICT:
        clashes = tuple(clash.to_dict() for clash in row.clashes)
        others, fix = _conflict_fix(row.registration_code, row.trigon_id, clashes)
        return FirmState(
            Standing.CONFLICT,
            *base,
            staged_at,
            "trigon-sync import-clients",
            fix,
            f"{row.name} is a conflict in the staged import and is never imported: "
            f"{row.reason or 'its code is missing or shared'}; it clashes with {others}. "
            f"If this firm owns the code, `{fix}` imports it and leaves the others "
            f"conflicts{earlier}",
            owed,
            clashes,
        )
    if row.has(Flag.NO_VIEW_PERMISSION):
        return FirmState(
            Standing.NO_VIEW,
            *base,
            staged_at,
            "trigon-sync import-clients",
            f"trigon-sync confirm --only {code}",
            f"{row.name} is listed in Trigon without View permission, so nothing can be "
            "counted for it: add View for this firm to the Trigon user's role, then "
            f"`trigon-sync import-clients` and `trigon-sync confirm --only {code}`{earlier}",
            owed,
        )
    if row.action in (Action.CREATE, Action.LINK):
        return FirmState(
            Standing.NOT_IMPORTED,
            *base,
            staged_at,
            "trigon-sync import-clients",
            f"trigon-sync confirm --only {code}",
            f"{row.name} is in Trigon but not imported: the staged import would "
            f"{row.action} its Uku client; `trigon-sync confirm --only {code}` imports it and "
            f"it is counted from the next period{earlier}",
            owed,
        )
    return FirmState(  # linked or mismatch rows of a firm no longer linked: a stale plan
        Standing.NOT_IMPORTED,
        *base,
        staged_at,
        "trigon-sync import-clients",
        "trigon-sync import-clients",
        f"{row.name} is not linked and the staged import is older than its link's removal; "
        f"run `trigon-sync import-clients` to see what it would do now{earlier}",
        owed,
    )


def _conflict_fix(code: str, firm: str, clashes: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """Whom a conflict clashes with (for people) and the command that resolves it."""
    others = ", ".join(f"{c.get('name')} ({c.get('id')})" for c in clashes) or "another record"
    shared = any(c.get("kind") == "trigon_firm" for c in clashes)
    fix = (
        f"trigon-sync import-clients --owner {code}={firm}"
        if shared and code.isdigit()
        else "trigon-sync import-clients (after fixing the registration code in Trigon)"
    )
    return others, fix


def _left_at_confirm(event: _Event, owed: tuple[str, ...]) -> FirmState:
    """A firm a ``confirm`` left out as a conflict or for lack of View (the staged plan that
    said so is gone: confirm consumed it)."""
    code = _code(event.code, event.firm)
    base = (event.firm, event.name, event.code)
    when = format_ee_time(event.at)
    earlier = f"; it failed in period {', '.join(owed)} and has no task there" if owed else ""
    if event.kind == "conflict":
        others, fix = _conflict_fix(event.code, event.firm, event.clashes)
        why = event.reason or "its code is missing or shared"
        return FirmState(
            Standing.CONFLICT,
            *base,
            event.at,
            "trigon-sync import-clients",
            fix,
            f"{event.name} was a conflict when `trigon-sync confirm` ran on {when}, so it was "
            f"not imported and gets no summary task: {why}; it clashed with {others}. "
            f"If this firm owns the code, `{fix}` stages "
            f"it, then `trigon-sync confirm --only {code}` imports it (counted from the next "
            f"period){earlier}",
            owed,
            event.clashes,
        )
    return FirmState(
        Standing.NO_VIEW,
        *base,
        event.at,
        "trigon-sync import-clients",
        f"trigon-sync confirm --only {code}",
        f"{event.name} was left out when `trigon-sync confirm` ran on {when}: the Trigon "
        "user may not View it, so nothing could be counted for it, and it gets no summary "
        "task. Add View for this firm to the Trigon user's role, then `trigon-sync "
        f"import-clients` and `trigon-sync confirm --only {code}` (counted from the next "
        f"period){earlier}",
        owed,
    )


def _recorded(event: _Event, owed: tuple[str, ...], row: PlanRow | None) -> FirmState:
    if event.kind in ("conflict", "no_view"):
        return _left_at_confirm(event, owed)
    code = _code(event.code, event.firm)
    base = (event.firm, event.name, event.code)
    if not owed:
        owes = ""
    elif event.kind == "unlink":
        owes = (
            f"; it still owed {', '.join(owed)}: those periods were dropped at the unlink "
            "and get no task, not retried, also if it is linked again (counted from the next "
            "period)"
        )
    else:
        owes = f"; it failed in period {', '.join(owed)} and has no task there"
    if event.kind == "unlink":
        return FirmState(
            Standing.UNLINKED,
            *base,
            event.at,
            f"trigon-sync unlink {code}",
            "trigon-sync import-clients",
            f"{event.name} was unlinked on {format_ee_time(event.at)} and is not counted "
            f"since{owes}; `trigon-sync import-clients` then `trigon-sync confirm --only "
            f"{code}` links it again",
            owed,
        )
    return FirmState(
        Standing.SKIPPED,
        *base,
        event.at,
        "trigon-sync confirm --skip/--only",
        "trigon-sync import-clients",
        f"{event.name} was left out at `trigon-sync confirm` on {format_ee_time(event.at)} "
        f"(--skip, or not named by --only){owes}; `trigon-sync import-clients` then "
        f"`trigon-sync confirm --only {code}` imports it",
        owed,
    )
