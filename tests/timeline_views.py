"""The check every timeline test shares: each view says what run-monthly will do."""

from __future__ import annotations

import datetime as dt

from trigon_sync.billing.explain import Verdict, explain_client
from trigon_sync.cli.mapfields_view import next_import
from trigon_sync.health.status import window_facts
from trigon_sync.monthly.run import _runs as run_monthly_runs
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run
from trigon_sync.settings.config import Config
from trigon_sync.store.state import State
from trigon_sync.timeline.due import timeline

D = dt.date


def views_agree(cfg: Config, state: State, today: D, query: str = "Alpha") -> list[Run]:
    """What run-monthly would do on ``today``, after checking every view says the same."""
    runs = run_monthly_runs(cfg, state, today, None)
    line = timeline(
        cfg.summary.schedule,  # type: ignore[arg-type]  # the views are built from complete configs
        cfg.summary.first_import_date,  # type: ignore[arg-type]  # as above
        state.last_period_end,
        state.last_period,
        period_record.open_run(state),
        today,
    )
    upcoming = runs[0] if runs else line.next
    # status and doctor (doctor's local checks are status's)
    status_next, overdue, error = window_facts(cfg, state, today)
    assert error is None
    assert status_next == upcoming
    assert list(overdue) == [r for r in runs if r.import_day < today]
    # map-fields
    assert next_import(cfg, state, today) == upcoming
    # schedule: the first len(runs) rows are the due ones, then the projection
    shown = line.runs(len(runs) + 3)
    assert shown[: len(runs)] == runs
    assert all(r.import_day > today for r in shown[len(runs) :])
    assert shown[len(runs)] == line.next
    # explain: the open period, then every due one, then the next one
    answers = explain_client(query, state, cfg, {}, today).periods
    current = [
        a.run
        for a in answers
        if a.verdict in {Verdict.PENDING, Verdict.FAILED, Verdict.DUE, Verdict.NOT_DUE}
    ]
    expected: list[Run | None] = list(runs)
    if not runs or runs[-1] != line.next:
        expected.append(line.next)
    assert current == expected
    return runs
