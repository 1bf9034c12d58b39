"""A dry run is the real run without its writes: same actions, same failures, same exit.

Each world is run twice from the same state: first ``--dry-run``, then for real. Per client
the dry run must show what the real run then does (create, update, exists, skip, or fail
with the same reason), the same owed pairs, and the same kind of exit (clean or a
partial failure). Faults on both services (5xx, 429 bursts, dropped answers) are retried
and change nothing.
"""

from __future__ import annotations

import dataclasses
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


def actions(result: MonthlyResult) -> dict[str, Any]:
    """The run's ``--json`` document cut to what both kinds of run share: per (period,
    client) the action, its error and counts; the repairs, the owed pairs and the exit."""
    doc = result.to_json()
    failure = result.partial_failure()
    return {
        "clients": {
            (p["period"], c["trigon_id"]): (c["action"], c.get("error"), c["counts"])
            for p in doc["periods"]
            for c in p["clients"]
        },
        "repaired": [(r["period"], r["trigon_id"], r["found"], r["task"]) for r in doc["repaired"]],
        "owed": [(p["firm"], p["period"], p["reason"]) for p in doc["owed"]],
        "deferred": doc["deferred"],
        "exit": 0 if failure is None else int(failure.exit_code),
    }


def test_the_dry_run_decides_the_same_actions_as_the_real_run_night_after_night(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Night after night, the dry run's structured actions per client and period and its
    exit code equal those of the real run that follows: a client failing (it owes the
    period), its owed period retried late, a task deleted in Uku (made again), a client
    linked after October's import day, and another client failing in November."""
    from trigon_sync.store.state import locked_state

    firms = viewable_firms(sandbox_seed_dict)
    failing, vanished, later_failing, late = firms[0], firms[1], firms[2], firms[-1]
    link_firms(sandbox_world, firms[:-1])
    env = connect(sandbox_world, make_config(), tmp_path)
    nights: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def night(today: dt.date) -> MonthlyResult:
        planned = env.run(today, dry_run=True)
        assert env.world.writes() == [], "a dry run wrote to Uku"
        done = env.run(today)
        nights.append((actions(planned), actions(done)))
        env.world.clear_logs()
        return done

    try:
        sandbox_world.revoke_view(failing)
        october = night(D(2024, 10, 31))
        sandbox_world.restore_view(failing)
        [gone] = [
            t
            for t in env.tasks()
            if t["client_id"] == load_links()[vanished] and t["title"].endswith("2024-10")
        ]
        sandbox_world.delete_task(gone["id"])
        link_firms(sandbox_world, [late])
        with locked_state() as session:  # linked after October's import day
            link = session.state.links[late]
            session.state.links[late] = dataclasses.replace(link, linked_at=D(2024, 11, 5))
            session.save()
        sandbox_world.revoke_view(later_failing)
        november = night(D(2024, 11, 30))
    finally:
        env.close()
    for planned, done in nights:
        assert planned == done
    assert [(f, p) for f, p, _ in actions(october)["owed"]] == [(failing, "2024-10")]
    story = actions(november)
    assert (story["clients"][("2024-10", failing)][0], story["exit"]) == ("create", 5)
    assert ("2024-10", vanished, "deleted", gone["id"]) in story["repaired"]
    assert story["clients"][("2024-11", late)][0] == "create"
    assert [(f, p) for f, p, _ in story["owed"]] == [(later_failing, "2024-11")]


def load_links() -> dict[str, int]:
    from trigon_sync.store.state import load_state

    return {firm: link.uku_client_id for firm, link in load_state().links.items()}
