"""The nightly check of each link before writing (issue 21, item 2), against the sandbox.

A linked Uku client that is no longer that firm's client (another company, re-used for
another customer, deleted) or a firm whose code changed in Trigon fails that client with
the reason and the command that resolves it; nothing is written onto its Uku client, and
the other clients get their tasks. The dry run says the same.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from monthly_env import Env, Killed, connect, make_config, viewable_firms

from trigon_sync.clients.importing import build_plan
from trigon_sync.monthly.result import ClientOutcome
from trigon_sync.records.import_plan import Action
from trigon_sync.sandbox import SANDBOX_COMPANY, SandboxWorld
from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE
from trigon_sync.store.state import ClientLink, load_state, locked_state
from trigon_sync.uku.models import ClientDraft

D = dt.date
OTHER_COMPANY = "0b9f7c4e-1d2a-4e5f-8a6b-7c8d9e0f1a2b"


def _links() -> list[ClientLink]:
    return sorted(load_state().links.values(), key=lambda link: link.trigon_id)


def _task_clients(env: Env) -> list[int]:
    return [t["client_id"] for t in env.tasks()]


def test_links_of_another_company_fail_every_client_and_nothing_is_written(env: Env) -> None:
    """config.toml now names company B, the links were made in A: each linked client fails
    naming both companies and the way back; no task reaches any client of B."""
    with locked_state() as session:
        for link in session.state.links.values():
            link.uku_company = OTHER_COMPANY
        session.save()
    dry = env.run(D(2024, 10, 31), dry_run=True)
    result = env.run(D(2024, 10, 31))
    for run in (dry, result):
        assert len(run.failed) == len(_links()) and len(run.owed) == len(_links())
        for outcome in run.failed:
            assert outcome.error is not None
            assert f"linked in Uku company {OTHER_COMPANY}" in outcome.error
            assert f"connect-uku --company {OTHER_COMPANY}" in outcome.error
    assert env.tasks() == []
    assert env.task_writes() == []


def test_a_reused_uku_client_fails_alone_and_gets_nothing(env: Env) -> None:
    """An Uku client renamed and re-coded for a new customer: that client fails with the
    reason (dry run too), nothing is written onto it, every other client gets its task;
    import-clients shows the link as a mismatch, not as linked."""
    links = _links()
    reused = links[0]
    with env.world.lock:
        env.world.uku.update_client(
            reused.uku_client_id, {"name": "Uus Klient OÜ", "registration_code": "10000004"}
        )
    dry = env.run(D(2024, 10, 31), dry_run=True)
    result = env.run(D(2024, 10, 31))
    for run in (dry, result):
        reasons = {o.link.trigon_id: o.error or "" for o in run.failed}
        assert set(reasons) == {reused.trigon_id}
        reason = reasons[reused.trigon_id]
        assert "now has registration code 10000004" in reason
        assert f"trigon-sync unlink {reused.registration_code}" in reason
    assert reused.uku_client_id not in _task_clients(env)
    assert sorted(_task_clients(env)) == sorted(link.uku_client_id for link in links[1:])
    plan = build_plan(env.trigon, env.uku, load_state(), None)
    row = next(r for r in plan.rows if r.trigon_id == reused.trigon_id)
    assert row.action is Action.MISMATCH
    assert row.reason is not None and "10000004" in row.reason
    others = [r for r in plan.rows if r.trigon_id in {link.trigon_id for link in links[1:]}]
    assert {r.action for r in others} == {Action.LINKED}


def test_a_code_changed_in_trigon_is_reported_with_both_codes_and_the_choices(
    env: Env,
) -> None:
    """The firm's code changed in Trigon since it was linked: that client fails naming the
    old and the new code and both explicit choices; the others get their tasks."""
    links = _links()
    moved = links[-1]
    with env.world.lock:
        firm = env.world.trigon.firms[moved.trigon_id]
        env.world.trigon.firms[moved.trigon_id] = dataclasses.replace(
            firm, registration_code="10000010"
        )
    result = env.run(D(2024, 10, 31))
    reasons = {o.link.trigon_id: o.error or "" for o in result.failed}
    assert set(reasons) == {moved.trigon_id}
    reason = reasons[moved.trigon_id]
    assert f"changed from {moved.registration_code} to 10000010" in reason
    assert "link the firm by its new code" in reason and "stop counting it" in reason
    assert moved.uku_client_id not in _task_clients(env)
    assert len(env.tasks()) == len(links) - 1


def test_links_without_a_company_are_stamped_with_the_connected_one(env: Env) -> None:
    """A home whose links predate the company record: the first real run takes them to be
    in the company it is connected to and records it (the dry run writes nothing)."""
    assert {link.uku_company for link in _links()} == {None}
    env.run(D(2024, 10, 31), dry_run=True)
    assert {link.uku_company for link in _links()} == {None}
    result = env.run(D(2024, 10, 31))
    assert not result.failed
    assert {link.uku_company for link in _links()} == {SANDBOX_COMPANY}


def test_a_client_linked_moments_ago_is_not_called_gone_while_uku_lists_lag(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Production-like Uku lists a new client only seconds after its create: a linked
    client missing from the listing is read by id, found, and gets its task."""
    made = connect(sandbox_world, make_config(), tmp_path, behaviour=PRODUCTION_LIKE)
    try:
        firms = {f.id: f for f in sandbox_world.seed.trigon.firms}
        chosen = viewable_firms(sandbox_seed_dict)[:3]
        with locked_state() as session:
            for firm_id in chosen:
                firm = firms[firm_id]
                client = made.uku.create_client(
                    ClientDraft(firm.name, firm.registration_code), f"test-{firm_id}"
                )
                session.state.links[firm_id] = ClientLink(
                    firm_id, firm.registration_code or "", firm.name, client.id, D(2024, 9, 30)
                )
            session.save()
        listed = {c.id for c in made.uku.list_clients()}
        assert not {link.uku_client_id for link in _links()} & listed  # still lagging
        result = made.run(D(2024, 10, 31))
        assert not result.failed
        assert len(made.tasks()) == 3
    finally:
        made.close()


def test_a_firm_linked_again_to_another_uku_client_mid_period_gets_its_task_there(
    env: Env,
) -> None:
    """The period's journal says the firm is done, but on the Uku client it was linked to
    before (links dropped by connect-uku --drop-links or unlink, then linked again): that
    line does not make the new client done; it gets its own task."""
    links = _links()
    moved = links[1]

    def die_after_moved(outcome: ClientOutcome) -> None:
        if outcome.link.trigon_id == moved.trigon_id:
            raise Killed  # the period stays open, the firm's journal line written

    with contextlib.suppress(Killed):
        env.run(D(2024, 10, 31), workers=1, after_client=die_after_moved)
    assert moved.uku_client_id in _task_clients(env)
    with env.world.lock:
        fresh, _ = env.world.uku.create_client(
            {"name": moved.name, "registration_code": moved.registration_code}
        )
    with locked_state() as session:
        session.state.links[moved.trigon_id].uku_client_id = fresh["id"]
        session.save()
    result = env.run(D(2024, 10, 31))
    assert not result.failed and result.periods[0].complete
    assert _task_clients(env).count(fresh["id"]) == 1


def _a_period_with_one_reused_client(env: Env) -> tuple[ClientLink, list[ClientLink]]:
    """2024-10: the first client is re-coded in Uku, so it fails (and owes the period);
    every other client has its task."""
    links = _links()
    with env.world.lock:
        env.world.uku.update_client(
            links[0].uku_client_id, {"name": "Uus Klient OÜ", "registration_code": "10000004"}
        )
    env.run(D(2024, 10, 31))
    assert len(env.tasks()) == len(links) - 1
    return links[0], links[1:]


def test_tasks_of_another_company_are_not_reported_deleted(env: Env) -> None:
    """config.toml now names another company, whose Uku does not hold the period's tasks:
    a re-count fails every client by its link's company; none is reported deleted in
    Uku, no repair is tried, nothing is written."""
    _a_period_with_one_reused_client(env)
    with env.world.lock:
        for task in env.tasks():
            env.world.delete_task(task["id"])
    with locked_state() as session:
        for link in session.state.links.values():
            link.uku_company = OTHER_COMPANY
        session.save()
    writes = len(env.task_writes())
    result = env.run(D(2024, 10, 31), rerun="2024-10")
    assert result.repairs == []
    assert len(result.failed) == len(_links())
    assert all(f"linked in Uku company {OTHER_COMPANY}" in (o.error or "") for o in result.failed)
    assert len(env.task_writes()) == writes


def test_a_client_reused_after_its_task_was_written_fails_with_the_reason(env: Env) -> None:
    """A client whose task was written while it was the firm's, then re-coded for another
    customer: the next night fails it with the reason and writes nothing onto it."""
    reused, others = _a_period_with_one_reused_client(env)
    moved = others[0]
    with env.world.lock:
        env.world.uku.update_client(
            moved.uku_client_id, {"name": "Teine Klient OÜ", "registration_code": "10000010"}
        )
    writes = [w for w in env.task_writes() if w.get("client_id") == moved.uku_client_id]
    result = env.run(D(2024, 11, 30))
    reasons = {o.link.trigon_id: o.error or "" for o in result.failed}
    assert {reused.trigon_id, moved.trigon_id} <= set(reasons)
    assert "now has registration code 10000010" in reasons[moved.trigon_id]
    assert [w for w in env.task_writes() if w.get("client_id") == moved.uku_client_id] == writes
