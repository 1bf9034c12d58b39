"""Both API clients put every id into a URL as exactly one encoded path segment.

Walks each client method that carries an id with hostile ids, against the in-process
sandbox (which routes on the still-encoded path): what reaches the wire must be one
segment per id that decodes back to that id, and the sandbox must read the same id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import pytest

from trigon_sync.errors import ApiError
from trigon_sync.http.session import HttpSession, make_client
from trigon_sync.http.url_path import segment_value
from trigon_sync.sandbox import (
    SANDBOX_API_KEY,
    SANDBOX_COMPANY,
    SANDBOX_ID_TOKEN,
    SANDBOX_UKU_KEY,
    SandboxWorld,
    SyncASGITransport,
    make_trigon_app,
    make_uku_app,
)
from trigon_sync.store.secrets import Secret
from trigon_sync.trigon import FirmNotFound, TrigonClient, TrigonWire
from trigon_sync.trigon.auth import StaticKeyAuth
from trigon_sync.trigon.models import COLLECTIONS, SNAPSHOT_KINDS
from trigon_sync.uku import UkuClient
from trigon_sync.uku.models import ClientChanges, TaskChanges

TRIGON_BASE = "http://trigon.test/v1"
UKU_BASE = "http://uku.test/api/v3"
HOSTILE = [
    "f4/../f1",
    "f%32",
    "acme/6",
    "a b",
    "õ:ä?#",
    ".",
    "..",
    "...",
    "%2F",
    "a?b=c&d",
    "x#frag",
    "\\..\\",
    "tab\there",
    "\u200bzero-width",
    "semi;colon",
    "ctrl\r\nline",
]
DAY = dt.date(2024, 10, 1)


class Recorder(httpx.BaseTransport):
    """Passes every request on and keeps the raw path (without the query) it carried."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.raw_path.partition(b"?")[0].decode("ascii"))
        return self.inner.handle_request(request)


@pytest.fixture
def world(sandbox_world: SandboxWorld) -> SandboxWorld:
    for k, firm_id in enumerate(HOSTILE):
        sandbox_world.add_firm(firm_id, f"Vaenulik {k} OÜ", None)
        for n in range(k + 1):
            sandbox_world.add_record(firm_id, "payment", f"2024-10-01T12:00:0{n}+03:00")
    return sandbox_world


@pytest.fixture
def clients(world: SandboxWorld) -> Iterator[tuple[TrigonClient, Recorder, UkuClient, Recorder]]:
    transports = [SyncASGITransport(make_trigon_app(world)), SyncASGITransport(make_uku_app(world))]
    t_rec, u_rec = Recorder(transports[0]), Recorder(transports[1])
    trigon = TrigonClient(
        TrigonWire(HttpSession(make_client(TRIGON_BASE, transport=t_rec), service="Trigon")),
        StaticKeyAuth(Secret(SANDBOX_ID_TOKEN), Secret(SANDBOX_API_KEY)),
    )
    uku = UkuClient(
        HttpSession(make_client(UKU_BASE, transport=u_rec), service="Uku"),
        api_key=SANDBOX_UKU_KEY,
        company=SANDBOX_COMPANY,
    )
    yield trigon, t_rec, uku, u_rec
    trigon.close()
    uku.close()
    for transport in transports:
        transport.close()


def _segments(path: str, prefix: str) -> list[str]:
    assert path.startswith(prefix + "/"), path
    return [segment_value(part) for part in path[len(prefix) + 1 :].split("/")]


def test_trigon_client_sends_each_firm_id_as_one_segment_and_reads_that_firm(
    clients: tuple[TrigonClient, Recorder, UkuClient, Recorder],
) -> None:
    trigon, rec, _, _ = clients
    for k, firm_id in enumerate(HOSTILE):
        rec.paths.clear()
        assert trigon.get_firm(firm_id).id == firm_id
        assert trigon.count(firm_id, "payments", "created", DAY, DAY) == k + 1
        for collection in COLLECTIONS:
            trigon.count(firm_id, collection, "updated", DAY, DAY)
        for kind in SNAPSHOT_KINDS:
            assert trigon.snapshot(firm_id, kind, DAY) == 0
        walked = [_segments(p, "/v1") for p in rec.paths]
        assert walked[0] == ["firms", firm_id]
        assert all(w[:2] == ["firms", firm_id] and len(w) == 4 for w in walked[1:]), walked
        assert [w[2] for w in walked[1:]] == [
            "payments",
            *COLLECTIONS,
            *SNAPSHOT_KINDS,
        ]


def test_trigon_client_fails_an_unknown_hostile_firm_by_its_own_id(
    clients: tuple[TrigonClient, Recorder, UkuClient, Recorder],
) -> None:
    trigon, _, _, _ = clients
    for firm_id in ["f1/../f1x", "nope%2Ff1", "f1/"]:
        with pytest.raises(FirmNotFound) as caught:
            trigon.count(firm_id, "payments", "created", DAY, DAY)
        assert caught.value.firm_id == firm_id
    with pytest.raises(FirmNotFound):
        trigon.get_firm("")  # no URL names an empty id; nothing is sent


UkuCall = Callable[[UkuClient, Any], object]
UKU_CALLS: list[tuple[str, UkuCall, list[str]]] = [
    ("get_task", lambda uku, i: uku.get_task(i), ["tasks"]),
    ("update_task", lambda uku, i: uku.update_task(i, TaskChanges(title="x")), ["tasks"]),
    ("complete_task", lambda uku, i: uku.complete_task(i), ["tasks"]),
    ("update_client", lambda uku, i: uku.update_client(i, ClientChanges(name="x")), ["clients"]),
]


@pytest.mark.parametrize(("name", "call", "head"), UKU_CALLS, ids=[c[0] for c in UKU_CALLS])
def test_uku_client_sends_each_id_as_one_segment(
    clients: tuple[TrigonClient, Recorder, UkuClient, Recorder],
    name: str,
    call: UkuCall,
    head: list[str],
) -> None:
    """Uku's ids are integers; a string that is not one (a bug upstream) still cannot
    become URL syntax: it is one segment naming no object, so Uku answers 404."""
    _, _, uku, rec = clients
    for ident in [123456, *HOSTILE]:
        rec.paths.clear()
        try:
            answer = call(uku, cast(int, ident))
        except ApiError as exc:
            assert exc.status == 404, (name, ident, exc.message)
        else:
            assert name == "get_task" and answer is None  # Uku has no such task
        assert [_segments(p, "/api/v3") for p in rec.paths] == [[*head, str(ident)]]
