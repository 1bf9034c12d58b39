"""Exactly once against an Uku that behaves like the real one, not like our contract.

The production-like profile (sandbox/behaviour.py) ignores Idempotency-Keys on /clients
and /tasks, drops the filters it does not document, returns descriptions as HTML, lists
new objects only after a lag, has integer fields, no ``/complete``, no ``has_more`` and
the real error codes. On top of that a share of POSTs is committed and then answered
with a 5xx or a dropped connection. Expected counts come from the seed itself
(monthly_env.expected_counts), never from the sandbox's counting.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import (
    Env,
    Killed,
    bad_day,
    connect,
    expected_counts,
    kill_switches,
    link_firms,
    make_config,
    task_counts,
    viewable_firms,
)

from trigon_sync.cli.probe_cmd import apply_facts
from trigon_sync.clients.confirm_results import Outcome
from trigon_sync.clients.importing import apply_plan, build_plan, stage_plan, staged_plan
from trigon_sync.clients.plan import select_rows
from trigon_sync.errors import ServiceUnavailable
from trigon_sync.health.probe_facts import MIN_MARGIN, SETTLE_FLOOR
from trigon_sync.health.probe_uku import probe_uku
from trigon_sync.registration_codes import normalise_code
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE, UkuBehaviour
from trigon_sync.sandbox.seed import Seed
from trigon_sync.store import paths
from trigon_sync.store import probe_facts as probe_facts_file
from trigon_sync.store.state import load_state, locked_state
from trigon_sync.uku.settling import Settler

D = dt.date
OCTOBER = (D(2024, 10, 31), D(2024, 10, 1), D(2024, 10, 30), "2024-10")
NOVEMBER = (D(2024, 11, 30), D(2024, 10, 31), D(2024, 11, 29), "2024-11")
SEEDS = [1, 2, 3]


def assert_exactly_once(
    env: Env, seed: dict[str, Any], months: list[tuple[dt.date, dt.date, dt.date, str]]
) -> None:
    """One task per linked client and period, holding the seed's counts; no other task."""
    state = load_state()
    firm_of = {link.uku_client_id: firm for firm, link in state.links.items()}
    tasks = env.tasks()
    per = Counter((t["client_id"], t["title"].rsplit(" ", 1)[-1]) for t in tasks)
    wanted = Counter((client, m[3]) for client in firm_of for m in months)
    assert per == wanted, (dict(per - wanted), dict(wanted - per))
    window = {m[3]: (m[1], m[2]) for m in months}
    for task in tasks:
        start, end = window[task["title"].rsplit(" ", 1)[-1]]
        assert task_counts(task) == expected_counts(seed, firm_of[task["client_id"]], start, end)


@pytest.fixture
def world(sandbox_seed: Seed, sandbox_seed_dict: dict[str, Any]) -> SandboxWorld:
    world = SandboxWorld(sandbox_seed)
    link_firms(world, viewable_firms(sandbox_seed_dict))
    return world


def real_uku(world: SandboxWorld, tmp_path: Path, seed: int, **kwargs: Any) -> Env:
    return connect(
        world,
        make_config(),
        tmp_path,
        behaviour=kwargs.pop("behaviour", PRODUCTION_LIKE),
        uku_faults=bad_day(seed),
        **kwargs,
    )


@pytest.mark.parametrize("fault_seed", SEEDS)
def test_lost_answers_on_the_production_like_uku_give_one_task_each(
    world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path, fault_seed: int
) -> None:
    """Two months with committed-then-failed POSTs and ignored keys: no doubles, right
    counts, every period complete on the first run, and the runs report every task they
    created (a create whose answer was lost included)."""
    env = real_uku(world, tmp_path, fault_seed)
    reported = 0
    try:
        for today, *_ in (OCTOBER, NOVEMBER):
            result = env.run(today)
            assert result.partial_failure() is None, result.partial_failure()
            reported += result.count("created")
            env.clock.advance(3600)  # type: ignore[union-attr]  # the env under test has a fake clock
    finally:
        env.close()
    lost = [w for w in world.writes() if w["after_fault"] and w["method"] == "POST"]
    assert lost, "the fault seed must lose some committed creates"
    assert not any(w["replayed"] for w in world.writes())  # the keys were ignored
    assert_exactly_once(env, sandbox_seed_dict, [OCTOBER, NOVEMBER])
    assert reported == len(env.tasks())
    assert load_state().last_period_end == NOVEMBER[2]


@pytest.mark.parametrize("kill_seed", SEEDS)
def test_kills_at_random_points_then_reruns_on_the_production_like_uku(
    world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path, kill_seed: int
) -> None:
    """Killed right after a create commits (before its journal line), several times over,
    while Uku's lists lag behind: the re-runs end with one correct task per client."""
    rng = random.Random(kill_seed)
    killers, wrap = kill_switches()
    env = real_uku(world, tmp_path, kill_seed, transport_wrapper=wrap)
    try:
        for _ in range(3):
            for killer in killers:
                killer.n, killer.armed = rng.randint(0, 6), True
            with contextlib.suppress(Killed):
                env.run(OCTOBER[0])
        for killer in killers:
            killer.armed = False
        result = env.run(OCTOBER[0])
        assert result.partial_failure() is None, result.partial_failure()
    finally:
        env.close()
    assert_exactly_once(env, sandbox_seed_dict, [OCTOBER])


def test_the_contract_profile_still_holds_under_the_same_faults(
    world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """The normal profile (keys honoured, no lag) with the same bad day: one task each."""
    env = real_uku(world, tmp_path, 4, behaviour=UkuBehaviour())
    try:
        assert env.run(OCTOBER[0]).partial_failure() is None
    finally:
        env.close()
    assert_exactly_once(env, sandbox_seed_dict, [OCTOBER])


@pytest.mark.parametrize("shared", [False, True], ids=["own-clients", "shared-clients"])
def test_two_homes_with_overlapping_firm_ids_keep_to_their_own_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    """Two Trigon organisations (firm ids f1.. in both) write into one Uku company, with
    Uku clients of their own or (a firm kept by both offices) the same ones: each home
    writes its own task per client and never updates or counts the other's."""
    seed = generate_seed(6, seed=21, no_view=0)
    world = SandboxWorld(seed)
    homes = [tmp_path / "office-a", tmp_path / "office-b"]
    envs = []
    for home in homes:
        monkeypatch.setenv(paths.ENV_HOME, str(home))
        if shared and envs:
            with locked_state() as session:
                session.state.links = load_state_of(homes[0]).links
                session.save()
        else:
            link_firms(world)  # f1..f6 linked to Uku clients of this office's own
        envs.append(connect(world, make_config(), home, behaviour=PRODUCTION_LIKE))
    try:
        for home, env in zip(homes, envs, strict=True):
            monkeypatch.setenv(paths.ENV_HOME, str(home))
            result = env.run(OCTOBER[0])
            assert {o.plan.action for o in result.periods[0].outcomes} == {"create"}
            env.clock.advance(60)  # type: ignore[union-attr]  # the env under test has a fake clock
            again = env.run(OCTOBER[0], rerun="2024-10")
            assert {o.plan.action for o in again.periods[0].outcomes} == {"exists"}
    finally:
        for env in envs:
            env.close()
    tasks = world.uku_state()["tasks"]
    assert len(tasks) == 12
    assert len({t["client_id"] for t in tasks}) == (6 if shared else 12)
    assert [w for w in world.writes() if w["method"] == "PATCH"] == []


def load_state_of(home: Path) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.ENV_HOME, str(home))
        return load_state()


def test_firm_ids_with_colons_and_spaces_and_html_descriptions_give_no_doubles(
    tmp_path: Path,
) -> None:
    """Opaque firm ids (':', spaces, non-ASCII) and HTML-rendered descriptions: a second
    run of the same period finds every task and writes nothing."""
    seed = generate_seed(4, seed=5, no_view=0)
    odd = ["org:7 f1", "org:7 f 2", "õun:ä", "a:b:c"]
    renames = dict(zip([f["id"] for f in seed["trigon"]["firms"]], odd, strict=True))
    for firm in seed["trigon"]["firms"]:
        firm["id"] = renames[firm["id"]]
    for table in ("records", "reporting_persons", "fixed_assets"):
        for row in seed["trigon"][table]:
            row["firm"] = renames[row["firm"]]
    world = SandboxWorld(seed)
    link_firms(world)
    env = connect(world, make_config(), tmp_path, behaviour=PRODUCTION_LIKE)
    try:
        assert env.run(OCTOBER[0]).partial_failure() is None
        assert all(t["description"].startswith("<p>") for t in env.tasks())
        env.clock.advance(60)  # type: ignore[union-attr]  # the env under test has a fake clock
        world.clear_logs()
        again = env.run(OCTOBER[0], rerun="2024-10")
    finally:
        env.close()
    assert {o.plan.action for o in again.periods[0].outcomes} == {"exists"}
    assert env.task_writes() == []
    assert_exactly_once(env, seed, [OCTOBER])


def test_a_topic_changed_in_an_unfinished_period_does_not_double_a_task(
    world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Half the clients done in Bookkeeping, then the topic becomes Payroll: the period
    keeps writing where it started, and its tasks are found there."""
    env = real_uku(world, tmp_path, 9, behaviour=UkuBehaviour(drop_unknown_filters=False))
    done: list[str] = []

    def die(outcome: Any) -> None:
        done.append(outcome.link.trigon_id)
        if len(done) >= 5:
            raise Killed

    try:
        with pytest.raises(Killed):
            env.run(OCTOBER[0], workers=1, after_client=die)
        env.with_config(summary=make_config(topic="Payroll").summary)
        assert env.run(OCTOBER[0]).partial_failure() is None
    finally:
        env.close()
    assert_exactly_once(env, sandbox_seed_dict, [OCTOBER])
    assert {t["topic_id"] for t in env.tasks()} == {1}  # Bookkeeping, where it started


def test_a_count_uku_silently_drops_fails_the_client_naming_the_field(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """Uku answers 201 but keeps no custom-field values (a shape it ignores): the client
    fails with the field's name, and the run does not exit clean."""

    class DropsFieldValues(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method in {"POST", "PATCH"} and request.url.path.startswith("/api/v3/tasks"):
                doc = json.loads(request.content)
                doc.pop("custom_fields", None)
                request = httpx.Request(
                    request.method, request.url, headers=request.headers, json=doc
                )
            return self.inner.handle_request(request)

    env = connect(world, make_config(), tmp_path, transport_wrapper=DropsFieldValues)
    try:
        result = env.run(OCTOBER[0])
    finally:
        env.close()
    failure = result.partial_failure()
    assert failure is not None
    assert all("did not keep the counts" in (o.error or "") for o in result.failed)
    assert "'Payment created' sent" in (result.failed[0].error or "")
    assert len(result.owed) == len(result.failed)  # each owes the period, retried first


def test_a_listing_whose_offset_is_ignored_stops_with_a_clear_error(
    sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Every page is the first page: the run stops with a service error, never loops."""
    seed = generate_seed(210, seed=8, records_scale=0.05, no_view=0)
    world = SandboxWorld(seed)
    link_firms(world)
    env = connect(
        world, make_config(), tmp_path, behaviour=UkuBehaviour(ignore_offset=True, no_has_more=True)
    )
    try:
        with pytest.raises(ServiceUnavailable, match="does not advance"):
            env.uku.list_clients()
    finally:
        env.close()


@pytest.mark.parametrize("fault_seed", SEEDS)
def test_confirm_on_the_production_like_uku_creates_each_client_once(
    sandbox_seed: Seed, tmp_path: Path, fault_seed: int
) -> None:
    """Lost answers to client creates, ignored keys, a dropped code filter and lagging
    lists; a kill mid-way and a re-run: exactly one Uku client per registration code."""
    world = SandboxWorld(sandbox_seed)
    env = real_uku(world, tmp_path, fault_seed)
    settler = Settler(30.0, lambda: dt.datetime.now(tz=dt.UTC), env.sleep)
    try:
        with locked_state() as session:
            stage_plan(session.state, build_plan(env.trigon, env.uku, session.state, None), now())
            session.save()
        for attempt in range(2):
            with locked_state() as session:
                selection = select_rows(staged_plan(session.state))
                result = apply_plan(
                    selection, uku=env.uku, session=session, now=now(), settler=settler
                )
            if not result.failed:
                break
            assert attempt == 0, [r.reason for r in result.failed]
    finally:
        env.close()
    assert result.counts()[Outcome.FAILED] == 0
    codes = Counter(
        normalise_code(c["registration_code"])
        for c in world.uku_state()["clients"]
        if c["registration_code"]
    )
    assert max(codes.values()) == 1, [c for c, n in codes.items() if n > 1]
    assert any(w["after_fault"] for w in world.writes() if w["path"].endswith("/clients"))


def now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC)


@pytest.mark.parametrize("fault_seed", SEEDS)
def test_with_probe_facts_the_settle_wait_is_the_measured_lag_and_exactly_once_holds(
    world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path, fault_seed: int
) -> None:
    """``doctor --probe`` measured the production-like list lag and its facts are stored:
    the run settles each lost create's answer for the measured lag plus its margin (not
    the 30 s default) and still writes exactly one task per (client, period), with 10% of
    POSTs committed and then failed. Every wait is counted through the injected sleep."""
    probe_env = connect(world, make_config(), tmp_path, behaviour=PRODUCTION_LIKE)
    probe_clock = probe_env.clock
    assert probe_clock is not None
    try:
        facts = probe_uku(
            probe_env.uku,
            probe_env.config,
            "0123456789abcdef",
            now=lambda: dt.datetime(2024, 10, 31, 12, 0, tzinfo=dt.UTC),
            monotonic=probe_clock,
            sleep=probe_clock.advance,
        )
    finally:
        probe_env.close()
    probe_facts_file.save(facts.to_json())
    world.clear_logs()
    lag = facts.list_lag_seconds
    assert lag is not None and lag > 1.0  # the production-like 2 s, measured
    bound = max(SETTLE_FLOOR, lag + max(MIN_MARGIN, lag / 2))

    config, applied = apply_facts(make_config())  # as run-monthly does, from the file
    assert applied is not None and config.uku.settle_seconds == bound < 30.0

    env = real_uku(world, tmp_path, fault_seed)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        env.sleep(seconds)  # the sandbox's clock moves; nobody really waits

    try:
        for today, *_ in (OCTOBER, NOVEMBER):
            result = env.run(today, config=config, sleep=sleep)
            assert result.partial_failure() is None, result.partial_failure()
            env.sleep(3600)
    finally:
        env.close()
    committed = [w for w in world.writes() if w["after_fault"] and w["path"] == "/api/v3/tasks"]
    assert committed, "the fault seed must lose some committed creates"
    lost = [  # every create whose answer did not arrive, committed or not
        r
        for r in world.requests("uku")
        if (r["method"], r["path"]) == ("POST", "/api/v3/tasks")
        and r["fault"] in {"error", "drop", "timeout"}
    ]
    assert_exactly_once(env, sandbox_seed_dict, [OCTOBER, NOVEMBER])
    assert waits, "a lost answer is settled before the list is believed"
    assert all(0 < w <= bound for w in waits), (bound, waits)
    assert len(waits) <= len(lost)
    assert sum(waits) <= len(lost) * bound
