"""Firm ids are data, never URL syntax (issue 21, item 1).

A Trigon firm id is an opaque string. Sent as plain path text, ``f4/../f1`` was counted
as firm f1 (httpx removes dot segments), ``f%32`` as f2 (the server decodes ``%xx``), and
``acme/6`` got a routing 404 that stopped the whole run. Here such firms are seeded into
the sandbox, which routes on the still-encoded path, and a monthly run must give each its
own counts; a 404 or 403 that only one firm gets must fail that client alone.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import (
    Env,
    connect,
    expected_counts,
    link_firms,
    make_config,
    task_counts,
)

from trigon_sync.http.url_path import path_segment
from trigon_sync.registration_codes import has_valid_check_digit
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.store.state import load_state

D = dt.date
HOSTILE_IDS = ("f4/../f1", "f%32", "acme/6", "a b", "õ:ä?#")
LOOK_ALIKES = {"f4/../f1": "f1", "f%32": "f2"}
"""The firm each hostile id was read as before ids were encoded."""


def _fresh_codes(taken: set[str], n: int) -> list[str]:
    """``n`` valid registry codes no seeded firm has."""
    codes = []
    candidate = 14_000_000
    while len(codes) < n:
        candidate += 1
        code = str(candidate)
        if code not in taken and has_valid_check_digit(code):
            codes.append(code)
    return codes


def hostile_seed() -> dict[str, Any]:
    """Six ordinary firms plus one firm per hostile id, each with its own October records
    (40 + 3k payments and k + 1 reporting persons), so no two firms' counts agree."""
    seed = copy.deepcopy(generate_seed(6, seed=7))
    trigon = seed["trigon"]
    taken = {f["registration_code"] for f in trigon["firms"]}
    for k, (firm_id, code) in enumerate(
        zip(HOSTILE_IDS, _fresh_codes(taken, len(HOSTILE_IDS)), strict=True)
    ):
        trigon["firms"].append(
            {"id": firm_id, "name": f"Vaenulik {k} OÜ", "registration_code": code}
        )
        for n in range(40 + 3 * k):
            stamp = f"2024-10-{1 + n % 28:02d}T10:00:00+03:00"
            trigon["records"].append(
                {
                    "id": f"h{k}-p{n}",
                    "firm": firm_id,
                    "type": "payment",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        for n in range(k + 1):
            trigon["reporting_persons"].append(
                {
                    "firm": firm_id,
                    "name": f"Isik {n}",
                    "active_from": "2020-01-01",
                    "active_to": None,
                }
            )
    return seed


@pytest.fixture
def seed() -> dict[str, Any]:
    return hostile_seed()


@pytest.fixture
def env(seed: dict[str, Any], tmp_path: Path) -> Iterator[Env]:
    """Every firm of the hostile seed linked; all fields mapped."""
    world = SandboxWorld(seed)
    link_firms(world)
    made = connect(world, make_config(), tmp_path)
    yield made
    made.close()


WINDOW = (D(2024, 10, 1), D(2024, 10, 30))


def test_each_hostile_firm_id_gets_its_own_counts(env: Env, seed: dict[str, Any]) -> None:
    for firm_id, look_alike in LOOK_ALIKES.items():  # the test can tell them apart
        assert expected_counts(seed, firm_id, *WINDOW) != expected_counts(seed, look_alike, *WINDOW)

    result = env.run(D(2024, 10, 31))

    assert not result.failed
    assert result.periods[0].complete
    links = load_state().links
    by_client = {t["client_id"]: t for t in env.tasks() if t["title"].endswith("2024-10")}
    assert len(by_client) == len(links) == 6 + len(HOSTILE_IDS)
    for firm_id, link in links.items():
        task = by_client[link.uku_client_id]
        assert task_counts(task) == expected_counts(seed, firm_id, *WINDOW), firm_id
    # Trigon was asked about each hostile firm by its own, single, encoded path segment.
    firm_paths = [r["path"] for r in env.world.requests("trigon")]
    asked = {p.split("/")[3] for p in firm_paths if p.startswith("/v1/firms/")}
    assert {path_segment(firm_id) for firm_id in HOSTILE_IDS} <= asked


class RefuseOneFirm(httpx.BaseTransport):
    """A proxy in front of Trigon that refuses one firm's paths with ``status`` and a
    code that is not Trigon's own (as Apache does for an encoded slash by default)."""

    def __init__(self, inner: httpx.BaseTransport, firm_id: str, status: int) -> None:
        self.inner = inner
        self.prefix = f"/v1/firms/{path_segment(firm_id)}/".encode()
        self.status = status

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.raw_path.startswith(self.prefix):
            body = {"error": {"code": "NOT_FOUND", "message": "no such path", "details": None}}
            return httpx.Response(self.status, json=body, request=request)
        return self.inner.handle_request(request)


@pytest.mark.parametrize("status", [404, 403])
def test_a_4xx_for_one_firm_fails_only_that_client(
    seed: dict[str, Any], tmp_path: Path, status: int
) -> None:
    victim = "acme/6"
    world = SandboxWorld(seed)
    link_firms(world)

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        # only the Trigon side: Uku's transport is wrapped too but never sees firm paths
        return RefuseOneFirm(inner, victim, status)

    env = connect(world, make_config(), tmp_path, transport_wrapper=wrap)
    try:
        result = env.run(D(2024, 10, 31))
    finally:
        env.close()

    reasons = {o.link.trigon_id: o.error for o in result.failed}
    assert set(reasons) == {victim}
    assert victim in reasons[victim]
    assert [p.firm for p in result.owed] == [victim]  # it owes the period; others go on
    links = load_state().links
    written = {t["client_id"] for t in env.tasks() if t["title"].endswith("2024-10")}
    assert written == {link.uku_client_id for f, link in links.items() if f != victim}
