"""The monthly run on a bad day: 300 clients while both services fail on purpose.

5% of requests answer 5xx, 5% are rate-limited bursts, some connections drop mid-answer
and some answers come too late (client read timeout). Faults on writes hit before or
after the commit, which is what Idempotency-Keys are for. The run must still end with
exit 0 and exactly one correct task per client. Kept fast: no latency, Retry-After 0,
a short read timeout, and no real sleeping in the retry loop.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from monthly_env import (
    UNLIMITED,
    connect,
    expected_counts,
    link_firms,
    make_config,
    task_counts,
)

from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.store.state import load_state

KEYS = (
    "sales_invoices_created",
    "sales_invoices_updated",
    "purchase_invoices_created",
    "financial_entries_updated",
    "active_reporting_persons",
    "depreciable_fixed_assets",
)


def test_300_clients_under_faults_get_exactly_one_correct_task_each(tmp_path: Path) -> None:
    """5xx, 429 bursts, drops and timeouts on both sides: exit 0, one right task per client."""
    seed = generate_seed(300, seed=3, records_scale=0.3, no_view=0)
    world = SandboxWorld(seed)
    links = link_firms(world)
    faults = UNLIMITED.updated(
        {
            "seed": 5,
            "error_rate": 0.05,
            "rate_limit_burst_rate": 0.05,
            "drop_rate": 0.02,
            "timeout_rate": 0.01,
            "retry_after_seconds": 0,
            "slow_seconds": 0.5,
            "exempt_paths": ("/v1/auth/",),
        }
    )
    env = connect(
        world, make_config(keys=KEYS, auto_complete=True), tmp_path, faults=faults, timeout=0.25
    )
    try:
        result = env.run(dt.date(2024, 10, 31), workers=8)
    finally:
        env.close()
    assert result.partial_failure() is None
    assert result.periods[0].complete
    assert load_state().last_period_end == dt.date(2024, 10, 30)

    requests = world.requests("trigon") + world.requests("uku")
    faults_seen = Counter(r["fault"] for r in requests if r["fault"])
    assert {"error", "rate_limit", "drop", "timeout"} <= set(faults_seen)
    after_commit = [w for w in world.writes() if w["after_fault"] and w["status"] == 201]
    assert after_commit, "some creates must have failed after committing"
    committed = Counter(
        w["body"]["client_id"]
        for w in world.writes()
        if w["method"] == "POST" and w["path"].endswith("/tasks") and w["status"] == 201
    )
    assert set(committed.values()) == {1}, "a create was sent again after it had committed"

    tasks = world.uku_state()["tasks"]
    assert Counter(t["client_id"] for t in tasks) == Counter(links.values())
    firm_of = {client: firm for firm, client in links.items()}
    for task in tasks:
        firm = firm_of[task["client_id"]]
        expected = expected_counts(seed, firm, dt.date(2024, 10, 1), dt.date(2024, 10, 30), KEYS)
        assert task_counts(task, KEYS) == expected
        assert task["status"] == "finished"
