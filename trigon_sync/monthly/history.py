"""The history record every ``run-monthly`` leaves (run_history.py), whatever happened.

``history`` and ``status`` read these records; a run that stopped on an error, a signal
or its time bound records exactly what it did (periods, clients, tasks written).
"""

from __future__ import annotations

import datetime as dt

from trigon_sync.errors import TrigonSyncError
from trigon_sync.monthly.plan import DONE_EARLIER
from trigon_sync.monthly.result import MonthlyResult
from trigon_sync.store import journal
from trigon_sync.store.state import StateSession

FAILURES_IN_HISTORY = 50
"""Failed clients named in one record (the rest are counted)."""


def record_run(
    session: StateSession,
    result: MonthlyResult,
    error: BaseException | None,
    *,
    at: dt.datetime,
    interrupted: bool,
) -> None:
    """Append one run to the history and save."""
    failed = result.failed
    if error is not None:
        outcome = "failed"
    elif failed or result.deferred or result.owed or interrupted:  # not all done
        outcome = "partial"
    else:
        outcome = "ok"
    message = None
    if error is not None:
        message = str(error) if isinstance(error, TrigonSyncError) else type(error).__name__
    session.state.record(
        at,
        "run-monthly --rerun" if result.rerun else "run-monthly",
        outcome,
        today=result.today,
        periods=[p.run.period for p in result.periods],
        complete=[p.run.period for p in result.periods if p.complete],
        deferred=[r.period for r in result.deferred] or None,
        clients_ok=result.ok_count,
        clients_failed=len(failed),
        failures=[
            {**o.failure_json(), "period": p.run.period}  # a range re-count has several
            for p in result.periods
            for o in p.failed
        ][:FAILURES_IN_HISTORY]
        or None,
        tasks_created=result.count("created"),
        tasks_updated=result.count("updated"),
        done_earlier=_done_earlier(result) or None,
        duration_seconds=round(result.duration, 3),
        requests=_requests(result),
        error=message,
        interrupted=True if interrupted else None,
        not_started=sum(p.not_started for p in result.periods) or None,
        owed=[p.to_json(result.today) for p in result.owed[:FAILURES_IN_HISTORY]] or None,
        owed_total=len(result.owed) if len(result.owed) > FAILURES_IN_HISTORY else None,
    )
    for period in {p.run.period for p in result.periods}:
        session.state.new_effects.append(journal.account(period))
    session.save()


def _done_earlier(result: MonthlyResult) -> int:
    """Clients whose task a run that left no record wrote (killed with SIGKILL before it
    could record itself): this run found them done by an earlier run, and its record is
    the one that counts them, so that the records' created, updated and earlier figures
    add up to the tasks Uku holds. Each is counted by one record only."""
    total = 0
    for period in result.periods:
        firms = {
            o.link.trigon_id for o in period.outcomes if o.ok and o.plan.reason == DONE_EARLIER
        }
        total += journal.unrecorded(period.run.period, firms)
        if not result.rerun:
            # found in Uku holding the counts though no record of this home says it was
            # written (a create whose answer a killed run never recorded, or one the home
            # a backup was taken from made after the copy's snapshot): adopted, not written
            total += sum(
                1
                for o in period.outcomes
                if o.ok and o.plan.action == "exists" and o.plan.reason != DONE_EARLIER
            )
    return total


def _requests(result: MonthlyResult) -> dict[str, dict[str, int]] | None:
    """Requests sent and 429s got per service (the metrics file shows them too)."""
    figures = {
        service: {"total": int(stats.get("total", 0)), "rate_limited": int(stats["rate_limited"])}
        for service, stats in result.requests.items()
        if isinstance(stats, dict) and "rate_limited" in stats
    }
    return figures or None
