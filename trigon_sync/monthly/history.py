"""The history record every ``run-monthly`` leaves (run_history.py), whatever happened.

``history`` and ``status`` read these records; a run that stopped on an error, a signal
or its time bound records exactly what it did (periods, clients, tasks written).
"""

from __future__ import annotations

import datetime as dt

from trigon_sync.errors import TrigonSyncError
from trigon_sync.monthly.result import MonthlyResult
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
        duration_seconds=round(result.duration, 3),
        requests=_requests(result),
        error=message,
        interrupted=True if interrupted else None,
        not_started=sum(p.not_started for p in result.periods) or None,
        owed=[p.to_json(result.today) for p in result.owed[:FAILURES_IN_HISTORY]] or None,
        owed_total=len(result.owed) if len(result.owed) > FAILURES_IN_HISTORY else None,
    )
    session.save()


def _requests(result: MonthlyResult) -> dict[str, dict[str, int]] | None:
    """Requests sent and 429s got per service (the metrics file shows them too)."""
    figures = {
        service: {"total": int(stats.get("total", 0)), "rate_limited": int(stats["rate_limited"])}
        for service, stats in result.requests.items()
        if isinstance(stats, dict) and "rate_limited" in stats
    }
    return figures or None
