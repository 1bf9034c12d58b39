"""A summary task deleted or moved by a person in Uku is found, reported and made again.

A client is done for a period only while its task is there: each run checks the tasks its
journal records against the period's listing (and, for one not listed, a GET by id, so a
lagging list never looks like a deletion), reports what it repairs, and creates a
vanished task again once, under the usual announce-and-settle rules. A task moved onto
another client is not that client's task: its marker names the client it was made for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monthly_env import (
    Env,
    Killed,
    carries_identity,
    connect,
    expected_counts,
    kill_switches,
    link_firms,
    make_config,
    task_counts,
)

from trigon_sync.billing.explain import Verdict, explain_client
from trigon_sync.billing.explain_records import read_journals
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE
from trigon_sync.sandbox.faults import FaultConfig
from trigon_sync.store import records_db
from trigon_sync.store.state import ClientLink, load_state

D = dt.date
OCTOBER = D(2024, 10, 31)
START, END = D(2024, 10, 1), D(2024, 10, 30)


@pytest.fixture
def seed() -> dict[str, Any]:
    return generate_seed(6, seed=21, no_view=0)


@pytest.fixture
def world(seed: dict[str, Any]) -> SandboxWorld:
    world = SandboxWorld(seed)
    link_firms(world)
    return world


@pytest.fixture
def env(world: SandboxWorld, tmp_path: Path) -> Iterator[Env]:
    made = connect(world, make_config(), tmp_path)
    yield made
    made.close()


def links() -> list[ClientLink]:
    return sorted(load_state().links.values(), key=lambda link: link.trigon_id)


def task_of(env: Env, link: ClientLink) -> dict[str, Any]:
    """The one task on ``link``'s client that carries its identity (fails if not one)."""
    [task] = [
        t
        for t in env.tasks()
        if t["client_id"] == link.uku_client_id and carries_identity(t, "2024-10")
    ]
    return task


def assert_one_task_each(env: Env, seed: dict[str, Any]) -> None:
    """Every linked client has exactly one task of its own for October, with its counts."""
    for link in links():
        task = task_of(env, link)
        assert task_counts(task) == expected_counts(seed, link.trigon_id, START, END)


def night_one_leaves_the_period_open(env: Env) -> ClientLink:
    """Night 1: one client without View, the others get their tasks; the period stays open."""
    victim = links()[0]
    env.world.revoke_view(victim.trigon_id)
    first = env.run(OCTOBER)
    assert [o.link.trigon_id for o in first.failed] == [victim.trigon_id]
    env.world.restore_view(victim.trigon_id)
    return victim


def test_a_deleted_and_a_moved_task_are_made_again_once_and_reported(
    env: Env, seed: dict[str, Any]
) -> None:
    """Night 2 after a person deleted one task and moved two others, one onto a client that
    has its task and one onto the client night 1 could not do: every client gets its own
    task (one create each), no client takes a moved task for its own or writes onto it,
    the run reports the three repairs, and a re-count afterwards changes nothing."""
    victim = night_one_leaves_the_period_open(env)
    _, deleted, moved, host, onto_victim, *_ = links()
    gone, shifted, own = task_of(env, deleted), task_of(env, moved), task_of(env, host)
    shifted_too = task_of(env, onto_victim)
    env.world.delete_task(gone["id"])
    env.world.move_task(shifted["id"], host.uku_client_id)
    env.world.move_task(shifted_too["id"], victim.uku_client_id)
    env.world.clear_logs()

    second = env.run(OCTOBER)

    assert second.partial_failure() is None and second.periods[0].complete
    creates = [
        w
        for w in env.task_writes()
        if w["method"] == "POST" and w["status"] == 201 and not w["replayed"]
    ]
    assert sorted(w["body"]["client_id"] for w in creates) == sorted(
        link.uku_client_id for link in (deleted, moved, onto_victim, victim)
    )
    untouched = {f"/api/v3/tasks/{t['id']}" for t in (own, shifted, shifted_too)}
    assert not [w for w in env.task_writes() if w["path"] in untouched]
    assert_one_task_each(env, seed)
    assert task_of(env, host)["id"] == own["id"]  # the moved task was not adopted
    assert task_of(env, victim)["id"] != shifted_too["id"]  # nor by the client left open
    repairs = {r.link.trigon_id: r for r in second.periods[0].repairs}
    assert set(repairs) == {deleted.trigon_id, moved.trigon_id, onto_victim.trigon_id}
    assert repairs[deleted.trigon_id].message() == (
        f"repaired: task {gone['id']} for {deleted.name} ({deleted.registration_code}) in "
        f"2024-10 was deleted in Uku; created again as task {task_of(env, deleted)['id']}"
    )
    assert f"moved in Uku to client {host.uku_client_id}" in repairs[moved.trigon_id].message()
    doc = second.to_json()
    assert {(r["trigon_id"], r["found"], r["task"]) for r in doc["repaired"]} == {
        (deleted.trigon_id, "deleted", gone["id"]),
        (moved.trigon_id, "moved", shifted["id"]),
        (onto_victim.trigon_id, "moved", shifted_too["id"]),
    }

    env.world.clear_logs()
    third = env.run(OCTOBER, rerun="2024-10")
    assert not third.periods[0].repairs
    assert {o.plan.action for o in third.periods[0].outcomes} == {"exists"}
    assert env.task_writes() == []


def test_the_dry_run_shows_the_repair_and_writes_nothing(env: Env) -> None:
    """--dry-run finds the deleted task too, plans its create and names the repair."""
    night_one_leaves_the_period_open(env)
    deleted = links()[1]
    env.world.delete_task(task_of(env, deleted)["id"])
    env.world.clear_logs()
    plan = env.run(OCTOBER, dry_run=True)
    assert env.world.writes() == []
    actions = {o.link.trigon_id: o.plan.action for o in plan.periods[0].outcomes}
    assert actions[deleted.trigon_id] == "create"
    [repair] = plan.periods[0].repairs
    assert repair.message().startswith("would repair: task ") and "create it again" in (
        repair.message()
    )
    assert plan.to_json()["repaired"][0]["task_now"] is None


def test_explain_says_what_the_last_run_found(env: Env) -> None:
    """When the run found the recorded task gone and could not make it again, explain says
    so instead of naming the task; after the repair it names the new task."""
    night_one_leaves_the_period_open(env)
    deleted = links()[1]
    gone = task_of(env, deleted)["id"]
    env.world.delete_task(gone)
    env.world.revoke_view(deleted.trigon_id)  # the repair cannot happen tonight
    second = env.run(OCTOBER)
    assert [o.link.trigon_id for o in second.failed] == [deleted.trigon_id]

    state = load_state()
    journals = read_journals(state, deleted.trigon_id)
    [answer] = explain_client(deleted.trigon_id, state, env.config, journals, OCTOBER).periods[:1]
    assert answer.verdict is Verdict.GONE
    assert f"Uku task {gone} holds" not in answer.reason
    assert f"task {gone}" in answer.reason and "deleted in Uku" in answer.reason

    env.world.restore_view(deleted.trigon_id)
    env.run(OCTOBER)
    state = load_state()
    journals = read_journals(state, deleted.trigon_id)
    [answer] = explain_client(deleted.trigon_id, state, env.config, journals, OCTOBER).periods[:1]
    assert answer.verdict is Verdict.TASK
    assert answer.task_id == task_of(env, deleted)["id"] != gone
    assert f"task {gone}" in answer.reason  # how it came to be


def test_rerun_of_a_completed_period_restores_a_deleted_task_once(
    env: Env, seed: dict[str, Any]
) -> None:
    """--rerun of a completed period creates a task a person deleted, once; the next
    --rerun finds it and only checks it."""
    assert env.run(OCTOBER).periods[0].complete
    deleted = links()[2]
    gone = task_of(env, deleted)["id"]
    env.world.delete_task(gone)
    env.world.clear_logs()
    result = env.run(D(2024, 11, 5), rerun="2024-10")
    assert result.partial_failure() is None
    [create] = [w for w in env.task_writes() if w["method"] == "POST" and not w["replayed"]]
    assert create["body"]["client_id"] == deleted.uku_client_id
    [repair] = result.periods[0].repairs
    assert repair.loss.task == gone
    assert_one_task_each(env, seed)
    env.world.clear_logs()
    again = env.run(D(2024, 11, 5), rerun="2024-10")
    assert not again.periods[0].repairs and env.task_writes() == []
    state = load_state()
    journals = read_journals(state, deleted.trigon_id)
    [answer] = explain_client(deleted.trigon_id, state, env.config, journals, OCTOBER).periods[:1]
    assert answer.task_id == task_of(env, deleted)["id"]


def test_rerun_still_creates_nothing_for_a_client_the_period_never_had(env: Env) -> None:
    """A client the period's record does not hold (linked after it was counted, say) gets
    no task from --rerun: only a task the record says was there is restored."""
    assert env.run(OCTOBER).periods[0].complete
    late = links()[3]
    env.world.delete_task(task_of(env, late)["id"])
    with records_db.shared(create=True).transaction() as con:  # as if never in the period
        con.execute(
            "DELETE FROM task_events WHERE period = '2024-10' AND firm = ?", (late.trigon_id,)
        )
    env.world.clear_logs()
    result = env.run(D(2024, 11, 5), rerun="2024-10")
    actions = {o.link.trigon_id: o.plan.action for o in result.periods[0].outcomes}
    assert actions[late.trigon_id] == "skip" and env.task_writes() == []


# -- the production-like Uku: lagging lists, ignored keys, lost answers ---------------------


def a_third_committed_then_failed(seed: int) -> FaultConfig:
    return FaultConfig(
        trigon_limit=100_000,
        uku_read_limit=100_000,
        uku_write_limit=100_000,
        seed=seed,
        post_commit_fail_rate=0.3,
        retry_after_seconds=0,
        exempt_paths=("/v1/auth/",),
    )


@pytest.mark.parametrize("fault_seed", [1, 2, 3])
def test_repairs_on_the_production_like_uku_make_no_doubles(
    world: SandboxWorld, seed: dict[str, Any], tmp_path: Path, fault_seed: int
) -> None:
    """Lists that lag, keys ignored, a third of the creates answered with a failure after
    they committed, and a kill right after a repair's create: one task each in the end."""
    killers, wrap = kill_switches(armed=False)
    env = connect(
        world,
        make_config(),
        tmp_path,
        behaviour=PRODUCTION_LIKE,
        uku_faults=a_third_committed_then_failed(fault_seed),
        transport_wrapper=wrap,
    )
    try:
        night_one_leaves_the_period_open(env)
        _, deleted, moved, host, *_ = links()
        env.world.delete_task(task_of(env, deleted)["id"])
        env.world.move_task(task_of(env, moved)["id"], host.uku_client_id)
        for killer in killers:
            killer.n, killer.armed = 0, True
        with contextlib.suppress(Killed):
            env.run(OCTOBER)  # dies right after the first create commits
        for killer in killers:
            killer.armed = False
        result = env.run(OCTOBER)  # at once: the lists have not caught up yet
        assert result.partial_failure() is None, result.partial_failure()
        assert result.periods[0].complete
    finally:
        env.close()
    assert_one_task_each(env, seed)
    per_client = [t["client_id"] for t in env.tasks()]
    assert len(per_client) == len(links()) + 1  # the moved task still sits on its new client


def test_a_lagging_list_is_no_deletion(world: SandboxWorld, tmp_path: Path) -> None:
    """Right after night 1 the production-like list does not show the new tasks yet; the
    run looks each one up by id and repairs nothing."""
    env = connect(world, make_config(), tmp_path, behaviour=PRODUCTION_LIKE)
    try:
        night_one_leaves_the_period_open(env)
        env.world.clear_logs()
        result = env.run(OCTOBER)
    finally:
        env.close()
    assert not result.periods[0].repairs
    assert [w["body"]["client_id"] for w in env.task_writes() if w["method"] == "POST"] == [
        links()[0].uku_client_id
    ]
