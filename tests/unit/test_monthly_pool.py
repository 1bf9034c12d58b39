"""The monthly run's thread pool: results in order, the first failure stops the rest, and
jobs are handed out a few at a time, not all at once."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import pytest

from trigon_sync.monthly.pool import QUEUED_PER_WORKER, run_pool


class Skipped(Exception):
    pass


def test_results_come_in_item_order_and_each_is_handed_back_once() -> None:
    seen: list[int] = []
    got = run_pool(list(range(50)), lambda n: n * n, workers=4, on_done=seen.append)
    assert got == [n * n for n in range(50)]
    assert sorted(seen) == got


def test_a_skipped_item_is_left_out_and_a_failure_stops_what_has_not_started() -> None:
    def job(n: int) -> int:
        if n == 3:
            raise Skipped
        return n

    assert run_pool(list(range(6)), job, workers=2, skip=Skipped) == [0, 1, 2, 4, 5]

    started: list[int] = []
    lock = threading.Lock()

    def failing(n: int) -> int:
        with lock:
            started.append(n)
        if n == 5:
            raise RuntimeError("Trigon is down")
        return n

    with pytest.raises(RuntimeError, match="Trigon is down"):
        run_pool(list(range(1000)), failing, workers=2)
    assert len(started) < 100  # the jobs already handed out at most, not the other 990
    stopped = run_pool(list(range(10)), failing, workers=2, stopped=lambda: True)
    assert stopped[:5] == [0, 1, 2, 3, 4] and 5 not in stopped  # a stop asked for: no raise


def test_jobs_are_handed_out_a_few_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """5,000 clients queued at once held 5,000 futures (about 1 KB each) all run long."""
    outstanding = 0
    most = 0
    lock = threading.Lock()
    real_submit = concurrent.futures.ThreadPoolExecutor.submit

    def submit(pool: Any, fn: Any, *args: Any) -> concurrent.futures.Future[Any]:
        nonlocal outstanding, most
        with lock:
            outstanding += 1
            most = max(most, outstanding)
        future = real_submit(pool, fn, *args)
        future.add_done_callback(lambda _: done())
        return future

    def done() -> None:
        nonlocal outstanding
        with lock:
            outstanding -= 1

    monkeypatch.setattr(concurrent.futures.ThreadPoolExecutor, "submit", submit)
    assert run_pool(list(range(2000)), lambda n: n, workers=4) == list(range(2000))
    assert most <= 4 * (1 + QUEUED_PER_WORKER)
