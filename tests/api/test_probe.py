"""``doctor --probe`` against the sandbox Uku: each real-world quirk alone is named, the
contract profile shows none, and no probe task is ever left behind."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import Env, connect, make_config

from trigon_sync.health.probe_facts import ProbeFacts
from trigon_sync.health.probe_uku import PROBE_TITLE, probe_uku
from trigon_sync.sandbox import SandboxWorld
from trigon_sync.sandbox.behaviour import CONTRACT, PRODUCTION_LIKE, UkuBehaviour
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.sandbox.seed import Seed

INSTALLATION = "0123456789abcdef"
TALLINN = dt.timezone(dt.timedelta(hours=2))
QUIRKS = [
    f.name
    for f in dataclasses.fields(UkuBehaviour)
    if getattr(PRODUCTION_LIKE, f.name) != getattr(CONTRACT, f.name)
]


def probe(env: Env) -> ProbeFacts:
    clock = env.clock
    assert clock is not None
    return probe_uku(
        env.uku,
        env.config,
        INSTALLATION,
        now=lambda: dt.datetime(2024, 10, 31, 12, 0, tzinfo=TALLINN),
        monotonic=clock,
        sleep=clock.advance,
    )


def env_with(world: SandboxWorld, tmp_path: Path, behaviour: UkuBehaviour, **kw: Any) -> Env:
    return connect(world, make_config(), tmp_path, behaviour=behaviour, **kw)


@pytest.fixture
def world(sandbox_seed: Seed) -> SandboxWorld:
    return SandboxWorld(sandbox_seed)


def test_the_contract_profile_shows_no_quirk(world: SandboxWorld, tmp_path: Path) -> None:
    """Against our own contract the probe finds nothing to report and leaves nothing."""
    env = env_with(world, tmp_path, CONTRACT)
    try:
        facts = probe(env)
    finally:
        env.close()
    assert facts.quirks == ()
    assert facts.breaking == ()
    assert facts.openapi == ()
    assert facts.list_lag_seconds == 0.0
    assert facts.filters == {"date": True, "topic_id": True, "client_id": True}
    assert len(facts.fields) == 14 and all(f.kept for f in facts.fields)
    assert facts.complete_served is True and facts.idempotency_replayed is True
    assert world.uku_state()["tasks"] == []
    assert facts.left_behind == ()


@pytest.mark.parametrize("quirk", QUIRKS)
def test_each_quirk_alone_is_named_alone(world: SandboxWorld, tmp_path: Path, quirk: str) -> None:
    """One production-like switch on: the probe names exactly that quirk, nothing breaks
    exactly once, and the throw-away task (and any second one) is gone."""
    behaviour = dataclasses.replace(CONTRACT, **{quirk: getattr(PRODUCTION_LIKE, quirk)})
    env = env_with(world, tmp_path, behaviour)
    try:
        facts = probe(env)
    finally:
        env.close()
    assert facts.quirks == (quirk,)
    assert facts.breaking == ()
    assert world.uku_state()["tasks"] == []
    assert facts.to_json()["quirks"] == [quirk]


def test_the_measured_lag_is_within_a_fifth_of_the_configured_one(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """The whole production-like profile: the lag measured is the sandbox's 2 s ± 20 %,
    and it sets a settle wait far below the 30 s default."""
    env = env_with(world, tmp_path, PRODUCTION_LIKE)
    try:
        facts = probe(env)
    finally:
        env.close()
    assert facts.list_lag_seconds is not None
    assert abs(facts.list_lag_seconds - 2.0) <= 0.4
    assert set(facts.quirks) == set(QUIRKS)
    assert facts.settle_seconds(30.0) < 30.0
    assert world.uku_state()["tasks"] == []


def test_a_field_uku_does_not_keep_is_a_breaking_fact(world: SandboxWorld, tmp_path: Path) -> None:
    """A mapped field whose value Uku drops is named as breaking exactly once."""
    env = env_with(world, tmp_path, dataclasses.replace(CONTRACT, unkept_field_ids=(12,)))
    try:
        facts = probe(env)
    finally:
        env.close()
    [lost] = facts.fields_not_kept
    assert lost.name == COUNT_FIELD_NAMES[2]  # the seed's field id 12
    assert lost.read_back is None
    assert len(facts.breaking) == 1 and repr(lost.name) in facts.breaking[0]
    assert world.uku_state()["tasks"] == []


class Killed(BaseException):
    """The process died: nothing after this runs, not even a ``finally`` that calls Uku."""


class DieAfterCreate(httpx.BaseTransport):
    """Passes requests on until the probe's task is created, then every request dies."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.dead = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.dead:
            raise Killed
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/tasks"):
            response.read()
            if b"safe to delete" in response.content:
                self.dead = True
        return response


@pytest.mark.parametrize("behaviour", [CONTRACT, PRODUCTION_LIKE], ids=["contract", "prod"])
def test_a_probe_killed_mid_way_leaves_nothing_after_a_rerun(
    world: SandboxWorld, tmp_path: Path, behaviour: UkuBehaviour
) -> None:
    """Killed right after its task was created (no cleanup could run): the next probe
    finds that task by title and mark and deletes it, also while Uku's list lags."""
    env = env_with(world, tmp_path, behaviour, transport_wrapper=DieAfterCreate)
    with pytest.raises(Killed):
        probe(env)
    env.close()
    assert [t["title"] for t in world.uku_state()["tasks"]] == [PROBE_TITLE]
    again = env_with(world, tmp_path, behaviour)
    try:
        facts = probe(again)
    finally:
        again.close()
    assert world.uku_state()["tasks"] == []
    assert any("killed probe" in note for note in facts.notes)
