"""A busy Uku company: the period's lookup costs what it costs in an empty one.

The company holds thousands of unrelated tasks (other topics, other clients, years of
work: sandbox/unrelated_tasks.py) and the production-like Uku drops every filter we send
(``topic_id``, ``client_id``, the date range). Requests are counted in the sandbox's own
request log; a task is ours only by its identity (monthly/task_identity.py).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import UNLIMITED, Env, connect, link_firms, make_config

from trigon_sync.monthly.task_listing import TrustedFilters
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.sandbox.behaviour import CONTRACT, PRODUCTION_LIKE, UkuBehaviour
from trigon_sync.sandbox.generator import DEFAULT_ANOMALIES
from trigon_sync.store import paths
from trigon_sync.store.state import load_state

D = dt.date
MONTHS = [(D(2024, 10, 31), "2024-10"), (D(2024, 11, 30), "2024-11")]
CLIENTS = 50
BUSY = 5_000
NO_ANOMALIES = dict.fromkeys(DEFAULT_ANOMALIES, 0)
EVERY_FILTER_DROPPED = PRODUCTION_LIKE
"""q, client_id, topic_id, status and the date range dropped; ``sort`` kept."""
LOST = UNLIMITED.updated({"seed": 4, "post_commit_fail_rate": 0.10})


def company(unrelated: int) -> SandboxWorld:
    return SandboxWorld(generate_seed(CLIENTS, seed=5, unrelated_tasks=unrelated, **NO_ANOMALIES))


def home(tmp_path: Path, world: SandboxWorld) -> None:
    """A home of its own in ``tmp_path`` (a test compares several), every firm linked."""
    os.environ[paths.ENV_HOME] = str(tmp_path / "home")  # the autouse fixture restores it
    link_firms(world)


def task_listings(world: SandboxWorld) -> list[str]:
    """The query of every ``GET /tasks`` (a listing page) since the log was cleared."""
    return [
        r["query"]
        for r in world.requests("uku")
        if r["method"] == "GET" and r["path"] == "/api/v3/tasks"
    ]


def runs(
    world: SandboxWorld,
    tmp_path: Path,
    behaviour: UkuBehaviour,
    faults: Any = UNLIMITED,
    **run_kwargs: Any,
) -> list[int]:
    """Both months, each run's ``GET /tasks`` count; every period complete, exactly one
    task per (client, period)."""
    home(tmp_path, world)
    env = connect(world, make_config(), tmp_path, behaviour=behaviour, uku_faults=faults)
    listed = []
    try:
        for today, _ in MONTHS:
            world.clear_logs()
            result = env.run(today, **run_kwargs)
            assert result.partial_failure() is None, result.partial_failure()
            listed.append(len(task_listings(world)))
            env.clock.advance(3600)  # type: ignore[union-attr]  # connect() gives a fake clock
        assert_one_task_each(env)
    finally:
        env.close()
    return listed


def assert_one_task_each(env: Env) -> None:
    clients = {link.uku_client_id for link in load_state().links.values()}
    per = Counter((t["client_id"], t["title"].rsplit(" ", 1)[-1]) for t in env.tasks())
    assert per == Counter({(c, p): 1 for c in clients for _, p in MONTHS})


_CLEAN: dict[str, list[int]] = {}


@pytest.fixture
def busy_clean_listings(tmp_path: Path) -> list[int]:
    """Each run's ``GET /tasks`` count in the busy company with every filter dropped and
    no fault: the baseline two tests compare against. The flow is deterministic (a fake
    clock, no faults), so the worker's first test runs it, asserting as it goes, in a home
    of its own, and the other reuses the counts (tests/conftest.py gives this module to one
    worker)."""
    if "listed" not in _CLEAN:
        _CLEAN["listed"] = runs(company(BUSY), tmp_path / "clean", EVERY_FILTER_DROPPED)
    return _CLEAN["listed"]


def test_every_filter_dropped_a_busy_company_costs_what_an_empty_one_does(
    tmp_path: Path, busy_clean_listings: list[int]
) -> None:
    """With 5,000 unrelated tasks and every filter dropped, each run's task listing costs
    at most 1.5x the requests it costs in an empty company (it stops at the window's start,
    newest first), instead of paging through the whole company."""
    empty = runs(company(0), tmp_path / "empty", EVERY_FILTER_DROPPED)
    busy = busy_clean_listings
    assert all(b <= 1.5 * e for b, e in zip(busy, empty, strict=True)), (busy, empty)
    assert max(busy) < BUSY // 200  # far from a full read of the company


def test_lost_answers_in_a_busy_company_cost_at_most_one_extra_listing_per_run(
    tmp_path: Path, busy_clean_listings: list[int]
) -> None:
    """10% of creates committed and then answered with a 5xx or a dropped connection: the
    lookups after the lost answers share one re-read of the newest pages per run, and Uku
    still ends with exactly one task per client and period."""
    clean = busy_clean_listings
    world = company(BUSY)
    lossy = runs(world, tmp_path / "lossy", EVERY_FILTER_DROPPED, LOST)
    lost = [w for w in world.writes() if w["after_fault"] and w["method"] == "POST"]
    assert len(lost) >= 4, "the fault seed must lose several committed creates"
    assert all(x - c <= c for x, c in zip(lossy, clean, strict=True)), (lossy, clean)


def test_an_uku_that_drops_sort_too_is_read_once_per_run_and_stays_exact(
    tmp_path: Path,
) -> None:
    """Rows that do not come newest first (``sort`` dropped) are not taken for an order:
    the listing is read to its end, once per run, plus at most one full re-read for all
    the lost answers of the run, and nothing is doubled."""
    behaviour = EVERY_FILTER_DROPPED.updated({"drop_sort": True})
    world = company(BUSY)
    listed = runs(world, tmp_path, behaviour, LOST)
    full = -(-(BUSY + CLIENTS) // 200)  # pages of one full read of the company
    month_two = -(-(BUSY + 2 * CLIENTS) // 200)
    assert listed[0] <= 2 * full and listed[1] <= 2 * month_two, listed
    assert listed[0] >= full  # read to its end: nothing was trusted


class RefusesSort(httpx.BaseTransport):
    """An Uku that answers 422 to a ``sort`` it does not know."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v3/tasks" and "sort" in request.url.params:
            return httpx.Response(
                422,
                json={
                    "error": {
                        "code": "VALIDATION_ERROR",
                        "message": "invalid sort",
                        "details": [{"field": "sort", "message": "unknown", "type": "invalid"}],
                    }
                },
            )
        return self.inner.handle_request(request)


def test_an_uku_that_refuses_our_sort_is_listed_without_it(tmp_path: Path) -> None:
    """A 422 to ``sort=-created_at`` does not fail the run: the listing goes on without
    the order (read to its end) and every client still gets exactly one task."""
    world = company(500)
    home(tmp_path, world)
    env = connect(
        world,
        make_config(),
        tmp_path,
        behaviour=EVERY_FILTER_DROPPED,
        transport_wrapper=RefusesSort,
    )
    try:
        for today, _ in MONTHS:
            world.clear_logs()
            assert env.run(today).partial_failure() is None
            queries = task_listings(world)
            assert queries and not any("sort=" in q for q in queries)
        assert_one_task_each(env)
    finally:
        env.close()


def test_a_trusted_q_narrows_the_listing_to_our_tasks(tmp_path: Path) -> None:
    """Where Uku is known to find our token with ``q`` (the contract sandbox does), the
    listing asks for it and never pages through the unrelated tasks."""
    world = company(BUSY)
    listed = runs(world, tmp_path, CONTRACT, trusted=TrustedFilters(q=True))
    assert listed == [2, 2]  # our token, and trigon-sync 0.1's: one page each


@pytest.mark.parametrize("unrelated", [0, BUSY])
def test_the_contract_uku_keeps_its_filters_and_one_listing(tmp_path: Path, unrelated: int) -> None:
    """Where Uku honours the filters (the contract), a run lists its period once."""
    assert runs(company(unrelated), tmp_path, CONTRACT) == [1, 1]
