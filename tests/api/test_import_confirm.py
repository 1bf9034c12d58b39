"""Client import against the in-process sandbox's 300-firm seed: plan, confirm, resume, faults."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from world_seeds import fresh_world, seed_document

from tests.seed_counts import ImportCounts, import_counts
from trigon_sync.business_register.index import RegisterEntry, RegisterIndex
from trigon_sync.cli.connections import make_uku_client, trigon_wire
from trigon_sync.clients.confirm_results import Outcome
from trigon_sync.clients.importing import (
    MAX_SAVES,
    apply_plan,
    build_plan,
    find_manager,
    stage_plan,
    staged_plan,
)
from trigon_sync.clients.plan import firm_name_key, select_rows
from trigon_sync.clock import now
from trigon_sync.errors import UsageError
from trigon_sync.http.session import RetryPolicy
from trigon_sync.records.import_plan import Action, Flag, ImportPlan
from trigon_sync.registration_codes import normalise_code
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    FaultConfig,
    ManualClock,
    SandboxWorld,
    SyncASGITransport,
    make_trigon_app,
    make_uku_app,
)
from trigon_sync.store.journal import ClientIntents
from trigon_sync.store.secrets import Secret, open_store
from trigon_sync.store.state import (
    State,
    StateSession,
    load_state,
    locked_state,
)
from trigon_sync.trigon import TokenManager, TrigonClient, login
from trigon_sync.uku import UkuClient
from trigon_sync.uku.models import ClientDraft
from trigon_sync.uku.settling import Settler

NO_WAIT = Settler(0.0, now, lambda _s: None)
"""The contract sandbox lists a create at once: nothing to wait for."""

TRIGON_BASE = "http://trigon.test/v1"
UKU_BASE = "http://uku.test/api/v3"
FAULTS = FaultConfig(
    seed=5, error_rate=0.05, rate_limit_burst_rate=0.05, exempt_paths=("/v1/auth/",)
)


@pytest.fixture(scope="module")
def seed300() -> dict[str, Any]:
    """The acceptance seed: 300 firms with every import anomaly (read-only)."""
    return seed_document(300, seed=3)


@pytest.fixture(scope="module")
def expected(seed300: dict[str, Any]) -> ImportCounts:
    """The plan counts the seed implies, counted from its firm and anomaly lists."""
    return import_counts(seed300)


@pytest.fixture
def world() -> SandboxWorld:
    """A fresh world of the seed300 document (read once per worker, not once per test)."""
    return fresh_world(300, seed=3)


@pytest.fixture
def register(seed300: dict[str, Any]) -> RegisterIndex:
    """The seed's Business Register rows as an index."""
    return RegisterIndex.from_entries(
        RegisterEntry(r["registration_code"], r["name"], r["status"]) for r in seed300["register"]
    )


Connect = Callable[..., tuple[TrigonClient, UkuClient]]


@pytest.fixture
def connect(world: SandboxWorld) -> Iterator[Connect]:
    """Trigon and Uku clients on in-process apps of ``world``; retries never sleep."""
    transports: list[SyncASGITransport] = []

    def make(faults: FaultConfig | None = None) -> tuple[TrigonClient, UkuClient]:
        no_sleep = lambda _seconds: None  # noqa: E731
        policy = RetryPolicy(jitter=lambda: 0.0)
        trigon_t = SyncASGITransport(make_trigon_app(world, faults, ManualClock()))
        uku_t = SyncASGITransport(make_uku_app(world, faults, ManualClock()))
        transports.extend((trigon_t, uku_t))
        wire = trigon_wire(TRIGON_BASE, transport=trigon_t, policy=policy, sleep=no_sleep)
        tokens = TokenManager(wire, open_store("keyring"), email=SANDBOX_EMAIL)
        tokens.adopt(login(wire, SANDBOX_EMAIL, SANDBOX_PASSWORD))
        uku = make_uku_client(
            UKU_BASE,
            SANDBOX_COMPANY,
            Secret(SANDBOX_UKU_KEY),
            transport=uku_t,
            policy=policy,
            sleep=no_sleep,
        )
        return TrigonClient(wire, tokens), uku

    yield make
    for transport in transports:
        transport.close()


def stage(trigon: TrigonClient, uku: UkuClient, register: RegisterIndex | None) -> ImportPlan:
    """import-clients without the CLI: plan under the lock and stage it."""
    with locked_state() as session:
        plan = build_plan(trigon, uku, session.state, register)
        stage_plan(session.state, plan, now())
        session.save()
    return plan


def codes_in_uku(world: SandboxWorld) -> Counter[str]:
    return Counter(c["registration_code"] for c in world.uku_state()["clients"])


def test_plan_shows_exactly_the_seeded_flags_and_actions(
    connect: Connect, register: RegisterIndex, seed300: dict[str, Any], expected: ImportCounts
) -> None:
    """Duplicate code -> 2 conflicts, 2 links, register misses, bad digit and no-View flags."""
    trigon, uku = connect()
    plan = stage(trigon, uku, register)
    anomalies = seed300["anomalies"]
    rows = {row.trigon_id: row for row in plan.rows}

    def with_action(action: Action) -> set[str]:
        return {tid for tid, row in rows.items() if row.action is action}

    def with_flag(flag: Flag) -> set[str]:
        return {tid for tid, row in rows.items() if row.has(flag)}

    existing = {e["firm"]: e["client_id"] for e in anomalies["existing_uku_clients"]}
    assert len(rows) == expected.firms
    assert with_action(Action.CONFLICT) == set(anomalies["duplicate_code"][0])
    assert {tid: rows[tid].uku_client_id for tid in with_action(Action.LINK)} == existing
    assert len(with_action(Action.CREATE)) == expected.to_create
    assert with_flag(Flag.BAD_CHECK_DIGIT) == set(anomalies["bad_check_digit"])
    assert with_flag(Flag.NOT_IN_REGISTER) == {
        *anomalies["missing_from_register"],
        *anomalies["bad_check_digit"],
    }
    assert with_flag(Flag.NO_VIEW_PERMISSION) == set(anomalies["no_view"])
    uku_names = {c["id"]: c["name"] for c in seed300["uku"]["clients"]}
    respelled = {
        firm
        for firm, cid in existing.items()
        if firm_name_key(uku_names[cid]) != firm_name_key(rows[firm].name)
    }
    assert with_flag(Flag.NAME_DIFFERS) == respelled
    assert staged_plan(load_state()) == plan


def test_confirm_creates_the_rest_links_two_and_a_second_import_is_all_linked(
    connect: Connect, register: RegisterIndex, world: SandboxWorld, expected: ImportCounts
) -> None:
    """The rest created with name, code, VAT, EE and the manager; existing linked; then all."""
    trigon, uku = connect()
    plan = stage(trigon, uku, register)
    manager = find_manager(uku.list_members(), "Manager@Firm.ee")
    with locked_state() as session:
        result = apply_plan(
            select_rows(staged_plan(session.state)),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
            manager_id=manager.id,
        )
    counts = result.counts()
    assert counts[Outcome.CREATED] == expected.create_selected  # without View: left out
    assert counts[Outcome.LINKED] == expected.link_selected
    assert counts[Outcome.FAILED] == counts[Outcome.FOUND] == 0
    assert max(codes_in_uku(world).values()) == 1

    state = load_state()
    assert state.staged_import is None
    assert len(state.links) == expected.linked_after_confirm
    assert state.history[-1].command == "confirm"
    by_id = {c["id"]: c for c in world.uku_state()["clients"]}
    for row in plan.rows:
        if row.action is Action.CREATE and not row.has(Flag.NO_VIEW_PERMISSION):
            client = by_id[state.links[row.trigon_id].uku_client_id]
            assert client["name"] == row.name
            assert client["registration_code"] == row.registration_code
            assert client["vat_number"] == row.vat_number
            assert client["country"] == "EE"
            assert client["manager_id"] == manager.id
            assert state.links[row.trigon_id].flags == [str(f) for f in row.flags]

    again = stage(trigon, uku, register).summary.actions
    assert again[Action.LINKED] == expected.linked_after_confirm
    assert again[Action.CONFLICT] == expected.conflicts
    assert again[Action.CREATE] == expected.unviewable_create
    assert again[Action.LINK] == expected.unviewable_link


def test_skipped_firms_are_not_created_and_show_up_again(
    connect: Connect, world: SandboxWorld, expected: ImportCounts
) -> None:
    """--skip leaves a firm out of Uku; the next import offers it again."""
    trigon, uku = connect()
    plan = stage(trigon, uku, None)
    skipped = next(row for row in plan.rows if row.action is Action.CREATE)
    with locked_state() as session:
        result = apply_plan(
            select_rows(plan, skip=[skipped.registration_code]),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
        )
    assert result.counts()[Outcome.CREATED] == expected.create_selected - 1
    assert result.counts()["skipped"] == 1
    assert skipped.registration_code not in codes_in_uku(world)
    rows = {row.trigon_id: row for row in stage(trigon, uku, None).rows}
    assert rows[skipped.trigon_id].action is Action.CREATE


def test_with_5xx_and_429_faults_the_end_result_is_the_same(
    connect: Connect, register: RegisterIndex, world: SandboxWorld, expected: ImportCounts
) -> None:
    """5% server errors and 5% rate-limit bursts: still one client per code, all linked."""
    trigon, uku = connect(FAULTS)
    stage(trigon, uku, register)
    with locked_state() as session:
        result = apply_plan(
            select_rows(staged_plan(session.state)),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
        )
    counts = result.counts()
    assert counts[Outcome.CREATED] + counts[Outcome.FOUND] == expected.create_selected
    assert counts[Outcome.LINKED] == expected.link_selected
    assert counts[Outcome.FAILED] == 0
    assert max(codes_in_uku(world).values()) == 1
    assert len(load_state().links) == expected.linked_after_confirm
    faults = Counter(r.get("fault") for r in world.requests("uku"))
    assert faults["error"] > 5 and faults["rate_limit"] > 5
    committed = Counter(
        w["body"]["registration_code"]
        for w in world.writes()
        if w["path"].endswith("/clients") and w["status"] == 201
    )
    assert any(w["after_fault"] for w in world.writes()), "some answers must have been lost"
    assert set(committed.values()) == {1}  # a lost answer was looked up, never sent again


def test_a_resumed_confirm_links_what_a_killed_run_created(
    connect: Connect, world: SandboxWorld, tmp_path: Path, expected: ImportCounts
) -> None:
    """Clients created by a run whose links were lost are found by code, never created again."""
    trigon, uku = connect()
    plan = stage(trigon, uku, None)
    lost = StateSession(State(), tmp_path / "lost-state.toml")  # the killed run's unsaved state
    half = ImportPlan(rows=plan.rows[:150], register_checked=False)
    apply_plan(select_rows(half), uku=uku, session=lost, now=now(), settler=NO_WAIT)
    created_before = sum(codes_in_uku(world).values())
    world.clear_logs()

    with locked_state() as session:
        result = apply_plan(
            select_rows(staged_plan(session.state)),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
        )
    counts = result.counts()
    first_half_creates = sum(
        row.action is Action.CREATE and not row.has(Flag.NO_VIEW_PERMISSION) for row in half.rows
    )
    assert counts[Outcome.FOUND] == first_half_creates
    assert counts[Outcome.CREATED] == expected.create_selected - first_half_creates
    assert sum(codes_in_uku(world).values()) == created_before + counts[Outcome.CREATED]
    assert max(codes_in_uku(world).values()) == 1
    posts = [w for w in world.writes() if w["method"] == "POST"]
    assert len(posts) == counts[Outcome.CREATED]
    assert len(load_state().links) == expected.linked_after_confirm


def test_a_row_uku_refuses_fails_alone_and_the_plan_is_kept(
    connect: Connect, world: SandboxWorld
) -> None:
    """A validation error fails that row only; the staged plan stays for the re-run."""
    trigon, uku = connect()
    plan = stage(trigon, uku, None)
    creates = [row for row in plan.rows if row.action is Action.CREATE][:4]
    broken = dataclasses.replace(creates[0], name="   ")
    small = ImportPlan(rows=(broken, *creates[1:]), register_checked=False)
    with locked_state() as session:
        result = apply_plan(
            select_rows(small), uku=uku, session=session, now=now(), settler=NO_WAIT
        )
    assert [r.row.trigon_id for r in result.failed] == [broken.trigon_id]
    assert "name" in (result.failed[0].reason or "")
    assert result.counts()[Outcome.CREATED] == 3
    state = load_state()
    assert state.staged_import is not None
    assert broken.trigon_id not in state.links
    assert state.history[-1].result == "partial"


def test_a_planned_link_whose_client_lost_its_code_fails(
    connect: Connect, world: SandboxWorld
) -> None:
    """If the Uku client to link no longer has the code, the row fails instead of guessing."""
    trigon, uku = connect()
    plan = stage(trigon, uku, None)
    link = next(row for row in plan.rows if row.action is Action.LINK)
    assert link.uku_client_id is not None
    with world.lock:
        world.uku.clients[link.uku_client_id]["registration_code"] = None
    with locked_state() as session:
        result = apply_plan(
            select_rows(plan, only=[link.registration_code]),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
        )
    assert result.failed[0].row == link
    assert "no longer has code" in (result.failed[0].reason or "")
    assert link.trigon_id not in load_state().links


def test_unknown_manager_is_refused(connect: Connect) -> None:
    """--manager with an email no Uku user has is a usage error listing the members."""
    _, uku = connect()
    with pytest.raises(UsageError, match=r"nobody@firm\.ee.*nothing was written") as caught:
        find_manager(uku.list_members(), "nobody@firm.ee")
    assert "manager@firm.ee" in str(caught.value)


def test_nothing_staged_is_a_clear_error() -> None:
    """confirm before import-clients says what to run first."""
    with pytest.raises(UsageError, match="no import plan is staged") as caught:
        staged_plan(State())
    assert "import-clients" in str(caught.value)


def test_a_client_added_by_hand_with_a_spaced_code_since_the_review_is_linked_not_duplicated(
    connect: Connect, world: SandboxWorld
) -> None:
    """A client typed into Uku as '18 764 755' after import-clients is found, not created twice."""
    trigon, uku = connect()
    plan = stage(trigon, uku, None)
    row = next(row for row in plan.rows if row.action is Action.CREATE)
    spaced = f"{row.registration_code[:2]} {row.registration_code[2:5]} {row.registration_code[5:]}"
    by_hand = uku.create_client(
        ClientDraft(name=row.name, registration_code=spaced, country="EE"), "typed-by-hand"
    )
    with locked_state() as session:
        result = apply_plan(
            select_rows(plan, only=[row.registration_code]),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
        )
    assert [(r.outcome, r.uku_client_id) for r in result.results] == [(Outcome.FOUND, by_hand.id)]
    same = [
        c
        for c in world.uku_state()["clients"]
        if normalise_code(c["registration_code"]) == row.registration_code
    ]
    assert len(same) == 1


def test_confirm_saves_the_state_a_bounded_number_of_times(connect: Connect) -> None:
    """However small the batch asked for, a confirm of ~280 rows saves at most
    MAX_SAVES + 2 times (batches, the end, the run record)."""
    trigon, uku = connect()
    stage(trigon, uku, None)
    with locked_state() as session:
        saves = []
        real_save = session.save
        session.save = lambda: (saves.append(1), real_save())[1]  # type: ignore[method-assign]
        selection = select_rows(staged_plan(session.state))
        result = apply_plan(
            selection, uku=uku, session=session, now=now(), save_every=1, settler=NO_WAIT
        )
    assert len(selection.apply) > 200
    assert result.counts()[Outcome.FAILED] == 0
    assert 3 <= len(saves) <= MAX_SAVES + 2


def test_an_old_intent_is_answered_by_the_full_listing_without_a_lookup(
    connect: Connect, tmp_path: Path
) -> None:
    """A create announced long before this confirm's full listing (a killed run an hour
    ago) is settled by that listing: no wait, no per-firm read of Uku."""
    trigon, uku = connect()
    plan = stage(trigon, uku, None)
    row = next(r for r in plan.rows if r.action is Action.CREATE)
    intents = ClientIntents()
    intents.intend(row.trigon_id, row.registration_code, now() - dt.timedelta(hours=1))
    waits: list[float] = []
    settler = Settler(30.0, now, waits.append)
    listings: list[tuple[Any, ...]] = []
    real_list = uku.list_clients
    uku.list_clients = lambda *a: (listings.append(a), real_list(*a))[1]  # type: ignore[method-assign]
    with locked_state() as session:
        result = apply_plan(
            select_rows(staged_plan(session.state)),
            uku=uku,
            session=session,
            now=now(),
            settler=settler,
            intents=intents,
        )
    assert result.counts()[Outcome.FAILED] == 0
    assert waits == []
    assert listings == [()]  # the full listing only


def test_a_firm_unlinked_because_its_client_was_reused_gets_a_new_client_not_the_old_one(
    connect: Connect, world: SandboxWorld
) -> None:
    """confirm created the firm's client; a person re-coded that client for another
    customer; the firm was unlinked and imported again. Uku (the contract sandbox keeps
    Idempotency-Keys for a day) replays the first create's answer for the same key:
    confirm sees the replayed client is no longer the firm's and makes a new one with the
    firm's code, and links that; the re-used client is left alone."""
    from trigon_sync.clients.links import unlink

    trigon, uku = connect()
    plan = stage(trigon, uku, None)
    row = next(r for r in plan.rows if r.action is Action.CREATE)
    with locked_state() as session:
        apply_plan(
            select_rows(plan, only=[row.registration_code]),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
        )
    first = load_state().links[row.trigon_id].uku_client_id
    with world.lock:
        world.uku.update_client(first, {"name": "Uus Klient OÜ", "registration_code": "10000004"})
    with locked_state() as session:
        unlink(session.state, row.trigon_id, now())
        session.save()
    again = stage(trigon, uku, None)
    assert next(r for r in again.rows if r.trigon_id == row.trigon_id).action is Action.CREATE
    with locked_state() as session:
        result = apply_plan(
            select_rows(again, only=[row.registration_code]),
            uku=uku,
            session=session,
            now=now(),
            settler=NO_WAIT,
        )
    assert result.counts()[Outcome.CREATED] == 1
    linked = load_state().links[row.trigon_id].uku_client_id
    assert linked != first
    by_id = {c["id"]: c for c in world.uku_state()["clients"]}
    assert normalise_code(by_id[linked]["registration_code"]) == row.registration_code
    assert by_id[first]["registration_code"] == "10000004"
    assert codes_in_uku(world)[row.registration_code] == 1
