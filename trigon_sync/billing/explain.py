"""``explain``: why a client has (or has no) summary task in each period, from local records.

Support's most common question is "why was no task created for client X?". Everything
needed to answer it is already on disk: the link (and since when) in state.toml, each
completed period's window in ``state.journal.completed``, the task each client got in the
per-period journal files (``journal/<period>.jsonl[.done]``) with the counts Uku holds now
from the ledger (ledger.py: a ``--rerun`` changes those), and every run's failures with
their reasons in the history. :func:`explain_client` is pure (those records and ``today``
in, an :class:`Explanation` out); reading those records is ``billing/explain_records.py``, finding
the client a query means is ``clients/lookup.py``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from trigon_sync.billing.explain_records import Failure, failures_by_period
from trigon_sync.billing.firm_state import FirmState, candidates, firm_state
from trigon_sync.clients.lookup import find_firm, find_link, find_staged
from trigon_sync.dates import format_ee, format_ee_day, format_ee_time
from trigon_sync.errors import TrigonSyncError
from trigon_sync.records import periods as period_record
from trigon_sync.records.import_plan import PlanRow
from trigon_sync.registration_codes import normalise_code
from trigon_sync.schedule.rules import Run
from trigon_sync.schedule.run_text import window_json, window_text
from trigon_sync.settings.config import Config
from trigon_sync.store import journal, owed
from trigon_sync.store.state import ClientLink, State
from trigon_sync.timeline.due import Timeline, timeline_for

PROJECTION_LIMIT = 36
"""How many future runs ``--period`` may look ahead (three years of monthly runs)."""

Journals = Mapping[str, Mapping[str, journal.Entry]]
"""period -> Trigon firm id -> the journal line of the client finished in that period."""


class Verdict(enum.StrEnum):
    """The answer for one client in one period."""

    TASK = "task"
    """A summary task holds the counts (``task_id``)."""
    NOT_LINKED = "not_linked"
    """The client was linked only after the period was counted."""
    FAILED = "failed"
    """The period's run failed for this client; ``reason`` says why."""
    PENDING = "pending"
    """The period is open (a run started) and this client is not done yet."""
    DUE = "due"
    """The import day has come but no run has started this period."""
    NOT_DUE = "not_due"
    """The import day is still ahead."""
    GONE = "gone"
    """The recorded task was found deleted or moved away in Uku by the last run that looked;
    ``task_id`` is that task, ``reason`` says what makes it again."""
    OWED = "owed"
    """The period completed for the others; this client failed and owes it: every run
    retries it first on the period's own window (store/owed.py)."""
    WAIVED = "waived"
    """An admin waived this client's owed period (``trigon-sync waive``): no task."""
    DROPPED = "dropped"
    """The client still owed the period when it was unlinked: dropped for good, no task
    (also when it was linked again later: counted from the next period)."""
    UNKNOWN = "unknown"
    """The period completed but this client's journal line is gone."""
    BEFORE = "before"
    """Counted before trigon-sync's records begin (another integration, or reset)."""


@dataclass(frozen=True)
class PeriodAnswer:
    """Why the client has or has no task in ``period``."""

    period: str
    verdict: Verdict
    reason: str
    """One sentence for people."""
    run: Run | None = None
    """The period's import day and window, when known."""
    task_id: int | None = None
    action: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    failures: tuple[Failure, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "verdict": str(self.verdict),
            "reason": self.reason,
            **window_json(self.run),
            "task_id": self.task_id,
            "action": self.action,
            "counts": dict(self.counts),
            "failures": [{"at": f.at, "reason": f.reason} for f in self.failures],
        }


@dataclass(frozen=True)
class Explanation:
    """Everything ``explain`` says about one client."""

    query: str
    link: ClientLink | None
    summary: str
    periods: tuple[PeriodAnswer, ...] = ()
    staged: PlanRow | None = None
    """For a client not linked yet: its row in the staged import, if there is one."""
    ignored: bool = False
    """The staged firm is marked ``trigon-sync ignore`` (import-clients' ``ignored``)."""
    firm: FirmState | None = None
    """Where the firm stands (linked, unlinked, skipped, ignored, conflict ...): what, since
    when, caused by and changed by which command; None when no record names it."""

    def to_json(self) -> dict[str, Any]:
        link = self.link
        return {
            "command": "explain",
            "query": self.query,
            "linked": link is not None,
            "client": None
            if link is None
            else {
                "trigon_id": link.trigon_id,
                "name": link.name,
                "registration_code": link.registration_code,
                "uku_client_id": link.uku_client_id,
                "linked_at": link.linked_at,
                "flags": list(link.flags),
            },
            "staged": None
            if self.staged is None
            else {**self.staged.to_json(), "ignored": self.ignored},
            "summary": self.summary,
            "state": None if self.firm is None else self.firm.to_json(),
            "periods": [answer.to_json() for answer in self.periods],
        }


_ACTIONS = {
    "create": "created by the run",
    "update": "an existing task updated",
    "exists": "the task was already there",
}


def _answer(run: Run, verdict: Verdict, reason: str, **extra: Any) -> PeriodAnswer:
    return PeriodAnswer(
        period=run.period,
        verdict=verdict,
        reason=reason,
        run=run,
        **extra,
    )


def _found(loss: journal.Loss) -> str:
    when = format_ee_time(loss.at) if loss.at else "an earlier run"
    return f"the run on {when} found it {loss.described}"


def _gone(
    run: Run, entry: journal.Entry, loss: journal.Loss, failures: Sequence[Failure], *, done: bool
) -> PeriodAnswer:
    """The records name a task the last run that looked found gone from this client."""
    then = (
        f"`trigon-sync run-monthly --rerun {run.period}` creates it again"
        if done
        else "the next `trigon-sync run-monthly` creates it again (the period stays open "
        "until it has)"
    )
    moved = (
        f"; task {loss.task} now bills client {loss.moved_to}: delete it there unless that is right"
        if loss.moved_to is not None
        else ""
    )
    last = [f for f in failures if f.at >= loss.at] if loss.at else []
    failed = f"; making it again failed ({last[-1].reason})" if last else ""
    return _answer(
        run,
        Verdict.GONE,
        f"no task now: Uku task {entry.task} held the counts for {window_text(run)}, but "
        f"{_found(loss)}{failed}; {then}{moved}",
        task_id=entry.task,
        action=entry.action,
        counts=entry.counts,
        failures=tuple(failures),
    )


def _with_task(
    run: Run, entry: journal.Entry, failures: Sequence[Failure], *, done: bool = False
) -> PeriodAnswer:
    if entry.lost is not None:
        return _gone(run, entry, entry.lost, failures, done=done)
    before = [f for f in failures if not f.rerun]
    recounts = [f for f in failures if f.rerun]
    earlier = (
        f"; an earlier run failed ({before[-1].reason}) and a later one did it" if before else ""
    )
    if recounts:
        earlier += (
            f"; a re-count (`run-monthly --rerun`) on {format_ee_time(recounts[-1].at)} failed "
            f"for this client ({recounts[-1].reason}), so the task may still hold the earlier "
            "counts"
        )
    if entry.earlier is not None:
        earlier += (
            f"; it replaces task {entry.earlier.task}: {_found(entry.earlier)} and made it again"
        )
    how = _ACTIONS.get(entry.action, entry.action)
    return _answer(
        run,
        Verdict.TASK,
        f"Uku task {entry.task} holds the counts for {window_text(run)} ({how}){earlier}",
        task_id=entry.task,
        action=entry.action,
        counts=entry.counts,
        failures=tuple(failures),
    )


def _completed_answer(
    run: Run,
    link: ClientLink,
    entry: journal.Entry | None,
    failures: Sequence[Failure],
    closed: str,
    today: dt.date,
) -> PeriodAnswer:
    pair = owed.pair(link.trigon_id, run.period)
    if entry is not None:
        answer = _with_task(run, entry, failures, done=True)
        if pair is None or pair.status != "done" or answer.verdict is not Verdict.TASK:
            return answer
        return replace(  # a task made on a later night: both dates, as `report` shows
            answer,
            reason=f"{answer.reason}; made late, on {format_ee_day(pair.updated_at)} (owed "
            f"since {format_ee_day(pair.since)}): in Uku it carries the import day "
            f"{format_ee(run.import_day)}",
        )
    if pair is not None and pair.status == "owed":
        days = pair.age_days(today)
        return _answer(
            run,
            Verdict.OWED,
            f"no task yet: owed since {format_ee_day(pair.since)}, {days} "
            f"day{'' if days == 1 else 's'} ({pair.reason}); the window "
            f"moved on for the other clients, and every `trigon-sync run-monthly` retries this "
            f"one first on {window_text(run)}. Cleared when its task is made, the client is "
            f"unlinked, or `trigon-sync waive {link.registration_code or link.trigon_id} "
            f"--period {run.period} --reason TEXT`",
            failures=tuple(failures),
        )
    if pair is not None and pair.status == "waived":
        return _answer(
            run,
            Verdict.WAIVED,
            f"no task: waived on {format_ee_day(pair.updated_at)} ({pair.reason})",
            failures=tuple(failures),
        )
    if pair is not None and pair.status == "dropped":
        return _answer(
            run,
            Verdict.DROPPED,
            f"no task: it owed this period since {format_ee_day(pair.since)} "
            f"({pair.reason}) and was dropped when the client was unlinked on "
            f"{format_ee_day(pair.updated_at)}; linked again on {format_ee(link.linked_at)}, "
            "it is counted from the next period after that, never this one",
            failures=tuple(failures),
        )
    if link.linked_at >= run.import_day:
        return _answer(
            run,
            Verdict.NOT_LINKED,
            f"not linked at that time: linked on {format_ee(link.linked_at)}, after period "
            f"{run.period} was counted ({closed}); its first task is in a later period",
        )
    return _answer(
        run,
        Verdict.UNKNOWN,
        f"the period completed for every linked client ({closed}), but this client's journal "
        f"line is missing; look in Uku for the task marked trigon-sync:{link.trigon_id}:"
        f"{run.period}",
        failures=tuple(failures),
    )


def _open_answer(
    run: Run, entry: journal.Entry | None, failures: Sequence[Failure]
) -> PeriodAnswer:
    if entry is not None:
        return _with_task(run, entry, failures)
    if failures:
        last = failures[-1]
        return _answer(
            run,
            Verdict.FAILED,
            f"no task yet: the run on {format_ee_time(last.at)} failed for this client: "
            f"{last.reason}; fix that, then `trigon-sync run-monthly` retries it (the period "
            "stays open until every client is done)",
            failures=tuple(failures),
        )
    return _answer(
        run,
        Verdict.PENDING,
        f"no task yet: period {run.period} ({window_text(run)}) was started and this client is "
        "not done; run `trigon-sync run-monthly` to finish it",
    )


def _timeline(config: Config | None, state: State, today: dt.date) -> Timeline | None:
    """run-monthly's timeline, or None when it cannot be known (no schedule, bad journal)."""
    if config is None:
        return None
    try:
        return timeline_for(config, state, today)
    except TrigonSyncError:
        return None


def explain_client(
    query: str,
    state: State,
    config: Config | None,
    journals: Journals,
    today: dt.date,
    period: str | None = None,
) -> Explanation:
    """Answer for one client: every known period, or only ``period``."""
    link = find_link(state, query)
    if link is None:
        return _not_linked(query, state, journals)
    failures = failures_by_period(state.history, link.trigon_id)
    answers: list[PeriodAnswer] = []
    for name in period_record.completed_periods(state):
        run = period_record.completed_run(state, name)
        if run is None:
            continue
        record = period_record.completed_period(state, name)
        completed_at = record.completed_at if record is not None else ""
        closed = f"completed {format_ee_time(completed_at or str(run.import_day))}"
        entry = journals.get(name, {}).get(link.trigon_id)
        answers.append(_completed_answer(run, link, entry, failures.get(name, []), closed, today))
    try:
        opened = period_record.open_run(state)
    except TrigonSyncError:
        opened = None
    if opened is not None:
        entry = journals.get(opened.period, {}).get(link.trigon_id)
        answers.append(_open_answer(opened, entry, failures.get(opened.period, [])))
    line = _timeline(config, state, today)
    if line is not None:
        answers.extend(_due(run) for run in line.due if run != line.open)
        if line.next != line.open:
            answers.append(_not_due(line.next, projected=False))
    done = [name for name, entries in journals.items() if link.trigon_id in entries]
    firm = firm_state(state, link.trigon_id, failures, done)
    if period is not None:
        return replace(_only(query, link, answers, period, state, line), firm=firm)
    return Explanation(
        query=query,
        link=link,
        summary=_summary(link, answers),
        periods=tuple(answers),
        firm=firm,
    )


def _not_linked(query: str, state: State, journals: Journals) -> Explanation:
    """A firm with no link: where the records say it stands (unlinked, skipped at confirm,
    ignored, a conflict, without View, staged), or that no record names it."""
    staged = find_staged(state, query)
    known = find_firm(query, candidates(state))
    firm = None
    if known is not None:
        done = [name for name, entries in journals.items() if known in entries]
        firm = firm_state(state, known, failures_by_period(state.history, known), done)
    if firm is not None:
        who = f"{firm.name} ({firm.registration_code or firm.trigon_id})"
        summary = f"{who} is not linked, so no task is created for it: {firm.detail}"
    elif staged is not None:
        summary = (
            f"{staged.name} ({staged.registration_code}) is not linked yet: it is in the "
            f"staged client import (action {staged.action}); run `trigon-sync confirm` to "
            "import it, then it is counted from the next period"
        )
        if staged.reason:
            summary += f". Note: {staged.reason}"
    else:
        summary = _never_staged(query)
    ignored = staged is not None and staged.trigon_id in state.ignored
    return Explanation(
        query=query, link=None, summary=summary, staged=staged, ignored=ignored, firm=firm
    )


def _never_staged(query: str) -> str:
    """What to say of a firm no record names: trigon-sync has never seen it, so it is not
    counted; how it gets counted (a registration code is named in the commands)."""
    code = normalise_code(query)
    who = f"registration code {code}" if code is not None else f"the name or id {query.strip()!r}"
    only = f"`trigon-sync confirm --only {code}`" if code is not None else "`trigon-sync confirm`"
    return (
        f"no firm with {who} is known to trigon-sync: no `trigon-sync import-clients` has "
        "listed it since the last `confirm`, and it was never linked, unlinked, skipped, "
        "ignored or left out as a conflict or without View, so it is not counted and gets "
        "no summary task. Run `trigon-sync import-clients` (it lists every firm the Trigon "
        f"user may List; if this one is missing, give that user List and View for it in "
        f"Trigon), then {only} imports it, counted from the next period"
    )


def _due(run: Run) -> PeriodAnswer:
    return _answer(
        run,
        Verdict.DUE,
        f"no task yet: the import day {format_ee(run.import_day)} has come but run-monthly "
        f"has not counted {window_text(run)}; run `trigon-sync run-monthly` (and check the "
        "cron job)",
    )


def _not_due(run: Run, *, projected: bool) -> PeriodAnswer:
    condition = "if the schedule stays, " if projected else ""
    return _answer(
        run,
        Verdict.NOT_DUE,
        f"not due yet: {condition}the import on {format_ee(run.import_day)} will count "
        f"{window_text(run)}",
    )


def _only(
    query: str,
    link: ClientLink,
    answers: Sequence[PeriodAnswer],
    period: str,
    state: State,
    line: Timeline | None,
) -> Explanation:
    """The answer for one period, projecting the schedule forward or explaining the past."""
    chosen = [a for a in answers if a.period == period]
    if not chosen and line is not None and period > line.next.period:
        later = line.projected(PROJECTION_LIMIT)
        chosen = [_not_due(run, projected=True) for run in later if run.period == period]
    if not chosen:
        if state.last_period is not None and period <= state.last_period:
            reason = (
                f"period {period} was counted before trigon-sync's records begin (another "
                "integration, or `state set-last-period-end`), so trigon-sync made no task for it"
            )
        else:
            reason = f"period {period} is not scheduled: it is before the first import date"
        chosen = [PeriodAnswer(period=period, verdict=Verdict.BEFORE, reason=reason)]
    return Explanation(  # only this period's records were read: the summary says so
        query=query, link=link, summary=_summary(link, chosen, period), periods=tuple(chosen)
    )


def _summary(link: ClientLink, answers: Sequence[PeriodAnswer], period: str | None = None) -> str:
    """Who, linked since when, and the tasks it has: in every known period, or (with
    ``--period``, whose answer reads that period's records only) in that one."""
    tasks = sum(1 for a in answers if a.verdict is Verdict.TASK)
    flags = f"; flags: {', '.join(link.flags)}" if link.flags else ""
    if period is None:
        has = f"{tasks} period(s) with a task"
    else:
        has = f"a task in period {period}" if tasks else f"no task in period {period}"
    return (
        f"{link.name} ({link.registration_code or link.trigon_id}) is linked to Uku client "
        f"{link.uku_client_id} since {format_ee(link.linked_at)}{flags}; {has}"
    )
