"""``doctor --probe``'s first contact with Trigon: one page of each endpoint the tool reads,
checked against docs/trigon-api.md's JSON Schemas (trigon_sync/trigon/schemas/). The
contract sandbox shows no difference; answers altered on the wire (a tiny wrapper between
the client and the sandbox) show every difference at once, each naming its request."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import Env, connect, make_config

from trigon_sync.health.probe_trigon import probe_trigon
from trigon_sync.sandbox import SandboxWorld
from trigon_sync.sandbox.seed import Seed
from trigon_sync.trigon.models import COLLECTIONS, EVENTS, SNAPSHOT_KINDS

TODAY = dt.date(2024, 10, 31)
ENDPOINTS = 3 + len(COLLECTIONS) * len(EVENTS) + len(SNAPSHOT_KINDS)
"""/me, /firms, /firms/{id}, each collection's count twice, the two snapshots."""


@pytest.fixture
def world(sandbox_seed: Seed) -> SandboxWorld:
    return SandboxWorld(sandbox_seed)


class BreaksTheContract(httpx.BaseTransport):
    """Rewrites Trigon's answers on the wire: ``edits`` maps a path ending to a function
    changing the decoded JSON body; ``statuses`` a path ending to a replacement answer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.edits: dict[str, Any] = {}
        self.replies: dict[str, httpx.Response] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.host != "trigon.test":
            return response
        path = request.url.path
        for ending, reply in self.replies.items():
            if path.endswith(ending):
                return reply
        for ending, edit in self.edits.items():
            if path.endswith(ending):
                response.read()
                body = json.loads(response.content)
                edit(body)
                return httpx.Response(response.status_code, json=body)
        return response


def run(env: Env) -> Any:
    try:
        return probe_trigon(env.trigon, TODAY)
    finally:
        env.close()


def test_the_contract_sandbox_shows_no_difference(world: SandboxWorld, tmp_path: Path) -> None:
    """Every endpoint the run reads is read once and fits its documented shape."""
    env = connect(world, make_config(), tmp_path)
    contact = run(env)
    assert contact.differences == ()
    assert contact.endpoints == ENDPOINTS
    assert contact.notes == ()
    sent = world.requests("trigon")
    assert {r["method"] for r in sent if not r["path"].endswith("/auth/login")} == {"GET"}


def test_every_difference_of_every_answer_is_listed_at_once(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """A count as a string, a missing field, a wrong type in the same answer, a firm
    without ``vat_number`` and an error answer without the error body: each is one line
    naming its request; the first difference does not hide the others."""
    wrappers: list[BreaksTheContract] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        wrappers.append(BreaksTheContract(inner))
        return wrappers[-1]

    env = connect(world, make_config(), tmp_path, transport_wrapper=wrap)
    breaker = wrappers[0]

    def me(body: dict[str, Any]) -> None:
        del body["data"]["active"]
        body["data"]["name"] = 7

    def firms(body: dict[str, Any]) -> None:
        del body["pagination"]["total_pages"]
        for firm in body["data"]:
            del firm["vat_number"]

    def as_text(body: dict[str, Any]) -> None:
        body["data"]["count"] = str(body["data"]["count"])

    breaker.edits = {"/me": me, "/firms": firms, "/payments/count": as_text}
    breaker.replies = {"/fixed-assets/count": httpx.Response(404, json={"detail": "Not Found"})}
    contact = run(env)

    lines = contact.differences
    first_firm = world.seed.trigon.firms[0]
    firm_count = len(world.seed.trigon.firms)
    expected = [
        "GET /me: .data: 'active' is a required property",
        "GET /me: .data.name: 7 is not of type 'string'",
        "GET /firms: .pagination: 'total_pages' is a required property",
        "GET /firms/{id}/payments/count (created): .data.count: ",
        "GET /firms/{id}/payments/count (updated): .data.count: ",
        "GET /firms/{id}/fixed-assets/count: HTTP 404 (no error code) instead of the "
        "documented answer",
        "GET /firms/{id}/fixed-assets/count: error body (the answer): "
        "'error' is a required property",
    ]
    for wanted in expected:
        assert [line for line in lines if line.startswith(wanted)], (wanted, lines)
    vat = [line for line in lines if "'vat_number' is a required property" in line]
    assert len(vat) == firm_count  # one per firm on the page, not only the first
    assert all(line.startswith("GET /firms: .data[") for line in vat)
    assert "is not of type 'integer'" in next(line for line in lines if "payments" in line)
    assert len(lines) == len(expected) + firm_count
    assert first_firm.id not in " ".join(lines)  # the request is named by its endpoint
    assert contact.endpoints == ENDPOINTS


def test_no_readable_firm_is_a_note_not_a_failure(world: SandboxWorld, tmp_path: Path) -> None:
    """A firm list where nothing carries View: the user and the list are still checked,
    and a note says the counts could not be."""
    wrappers: list[BreaksTheContract] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        wrappers.append(BreaksTheContract(inner))
        return wrappers[-1]

    env = connect(world, make_config(), tmp_path, transport_wrapper=wrap)

    def list_only(body: dict[str, Any]) -> None:
        for firm in body["data"]:
            firm["permissions"] = ["list"]

    wrappers[0].edits = {"/firms": list_only}
    contact = run(env)
    assert contact.differences == ()
    assert contact.endpoints == 2
    assert len(contact.notes) == 1 and "not checked" in contact.notes[0]
