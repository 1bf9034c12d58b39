"""The run history accounts for every task in Uku, also those of runs killed with SIGKILL.

A killed process writes no record of its own; the next run that meets its tasks (done by
an earlier run) counts them as ``done_earlier``, once, so that the records' created,
updated and earlier figures add up to the tasks Uku holds.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from monthly_env import Env, Killed

from trigon_sync.monthly import run as monthly_run
from trigon_sync.monthly.plan import DONE_EARLIER
from trigon_sync.store.state import load_state

D = dt.date
NIGHT = D(2024, 10, 31)


def _after_new(clients: int, then: Callable[[], None]) -> Any:
    """An ``after_client`` hook that calls ``then`` once ``clients`` tasks were written."""
    written: list[str] = []

    def hook(outcome: Any) -> None:
        if outcome.plan.reason != DONE_EARLIER:
            written.append(outcome.link.trigon_id)
        if len(written) >= clients:
            then()

    return hook


def _die() -> None:
    raise Killed


def _sigkilled(*_: Any, **__: Any) -> None:
    raise Killed  # the process is gone before it could record itself


def _monthly_records() -> list[Mapping[str, Any]]:
    return [r.details for r in load_state().history if r.is_monthly]


def test_tasks_of_killed_runs_are_counted_once_by_a_later_record(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:  # SIGKILL: no record
        patch.setattr(monthly_run, "record_run", _sigkilled)
        with pytest.raises(Killed):
            env.run(NIGHT, workers=1, after_client=_after_new(3, _die))
    in_uku = [len(env.tasks())]
    halt = threading.Event()  # SIGTERM: it stops between clients and records what it did
    stopped = env.run(NIGHT, workers=1, halt=halt, after_client=_after_new(2, halt.set))
    assert not stopped.periods[0].complete
    in_uku.append(len(env.tasks()))
    with monkeypatch.context() as patch:
        patch.setattr(monthly_run, "record_run", _sigkilled)
        with pytest.raises(Killed):
            env.run(NIGHT, workers=1, after_client=_after_new(4, _die))
    in_uku.append(len(env.tasks()))
    result = env.run(NIGHT)
    assert result.periods[0].complete

    records = _monthly_records()
    first, stopped_at, second = in_uku  # tasks in Uku after each of the three runs
    assert first >= 3 and second - stopped_at >= 4
    assert [r.get("done_earlier", 0) for r in records] == [first, second - stopped_at]
    assert [r.get("tasks_created", 0) for r in records] == [
        stopped_at - first,
        len(env.tasks()) - second,
    ]
    accounted = sum(
        r.get("tasks_created", 0) + r.get("tasks_updated", 0) + r.get("done_earlier", 0)
        for r in records
    )
    assert accounted == len(env.tasks())
    assert set(env.tasks_per_client_period().values()) == {1}


def test_a_night_without_kills_records_no_earlier_tasks(env: Env) -> None:
    halt = threading.Event()
    env.run(NIGHT, workers=1, halt=halt, after_client=_after_new(2, halt.set))
    env.run(NIGHT)
    records = _monthly_records()
    assert [r.get("done_earlier") for r in records] == [None, None]
    assert sum(r["tasks_created"] for r in records) == len(env.tasks())
