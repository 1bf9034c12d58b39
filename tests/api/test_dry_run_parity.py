"""A dry run is the real run without its writes: same actions, same failures, same exit.

Each world is run twice from the same state: first ``--dry-run``, then for real. Per client
the dry run must show what the real run then does (create, update, exists, skip, or fail
with the same reason), the same periods held back, and the same kind of exit (clean or a
partial failure). Faults on both services (5xx, 429 bursts, dropped answers) are retried
and change nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from monthly_env import (
    UNLIMITED,
    Env,
    connect,
    link_firms,
    make_config,
    viewable_firms,
)

from trigon_sync.monthly.run import MonthlyResult
from trigon_sync.sandbox import SandboxWorld
from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE, UkuBehaviour

D = dt.date
FAULTS = UNLIMITED.updated(
    {
        "seed": 17,
        "error_rate": 0.05,
        "rate_limit_burst_rate": 0.05,
        "retry_after_seconds": 0,
        "write_phase": "before",
        "exempt_paths": ("/v1/auth/",),
    }
)


def story(result: MonthlyResult) -> dict[str, Any]:
    """What a run did, client by client, in terms both kinds of run share."""
    return {
        "periods": [p.run.period for p in result.periods],
        "deferred": [r.period for r in result.deferred],
        "complete": [p.complete for p in result.periods],
        "clients": {
            (p.run.period, o.link.trigon_id): (
                o.plan.action,
                o.ok,
                o.error if not o.ok else None,
                dict(o.plan.counts),
            )
            for p in result.periods
            for o in p.outcomes
        },
        "partial": result.partial_failure() is not None,
    }


def lose_view(world: SandboxWorld, firms: list[str]) -> None:
    world.revoke_view(firms[0])


def remove_firm(world: SandboxWorld, firms: list[str]) -> None:
    world.remove_firm(firms[1])


def nothing(world: SandboxWorld, firms: list[str]) -> None:
    pass


@pytest.mark.parametrize(
    ("trouble", "today", "behaviour", "faulty"),
    [
        (nothing, D(2024, 10, 31), UkuBehaviour(), False),
        (lose_view, D(2024, 10, 31), UkuBehaviour(), False),
        (remove_firm, D(2024, 11, 30), UkuBehaviour(), True),
        (lose_view, D(2024, 11, 30), PRODUCTION_LIKE, True),
    ],
    ids=["clean", "lost-view", "removed-firm-two-periods-faults", "lost-view-production-like"],
)
def test_the_dry_run_tells_exactly_what_the_real_run_then_does(
    sandbox_world: SandboxWorld,
    sandbox_seed_dict: dict[str, Any],
    tmp_path: Path,
    trouble: Callable[[SandboxWorld, list[str]], None],
    today: dt.date,
    behaviour: UkuBehaviour,
    faulty: bool,
) -> None:
    firms = viewable_firms(sandbox_seed_dict)
    link_firms(sandbox_world, firms)
    trouble(sandbox_world, firms)
    env = connect(
        sandbox_world,
        make_config(),
        tmp_path,
        behaviour=behaviour,
        faults=FAULTS if faulty else None,
    )
    try:
        planned = env.run(today, dry_run=True)
        assert env.world.writes() == [], "a dry run wrote to Uku"
        done = env.run(today)
    finally:
        env.close()
    assert story(planned) == story(done)


def test_after_a_partial_month_the_dry_run_shows_updates_and_done_clients(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Half a period done, one client's counts changed since, one firm lost View: the
    dry run's update/exists/create/fail per client is what the resumed real run does."""
    firms = viewable_firms(sandbox_seed_dict)
    link_firms(sandbox_world, firms)
    env: Env = connect(sandbox_world, make_config(), tmp_path)
    try:
        sandbox_world.revoke_view(firms[-1])
        first = env.run(D(2024, 10, 31))  # all but the last firm done; it owes the period
        assert [(o.firm, o.period) for o in first.owed] == [(firms[-1], "2024-10")]
        sandbox_world.restore_view(firms[-1])
        sandbox_world.revoke_view(firms[0])  # a done client loses View: it stays done
        sandbox_world.add_record(firms[-1], "payment", "2024-10-03T09:00:00+03:00")
        planned = env.run(D(2024, 10, 31), dry_run=True)
        done = env.run(D(2024, 10, 31))
    finally:
        env.close()
    assert story(planned) == story(done)
    actions = {o.plan.action for o in done.periods[0].outcomes}
    assert actions == {"create"} and done.periods[0].late and not done.owed
