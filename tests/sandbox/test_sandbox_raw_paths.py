"""The sandbox routes on the path as sent: an encoded id reaches the handler as that id.

uvicorn decodes ``scope["path"]`` (``f%2532`` -> ``f%32``, ``acme%2F6`` -> ``acme/6``); a
router matching on that would read another firm than the client meant, or none. Over a
real socket, each firm below must be answered as itself, and the admin endpoints too.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from trigon_sync.http.url_path import api_path
from trigon_sync.sandbox import (
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    Running,
    SandboxWorld,
    generate_seed,
    run_sandbox,
)

LOOK_ALIKES = ["f%32", "f2", "acme/6", "acme", "f4/../f1", "f1", ".", "..", "õ:ä?#", "a b"]
WINDOW = {"created_from": "2024-10-01", "created_to": "2024-10-31"}


@pytest.fixture
def world() -> SandboxWorld:
    """Six generated firms (f1, f2 among them, all viewable) plus look-alikes, each with
    k+1 records."""
    sandbox_world = SandboxWorld(generate_seed(6, seed=7))
    known = {f.id for f in sandbox_world.seed.trigon.firms}
    for k, firm_id in enumerate(LOOK_ALIKES):
        if firm_id not in known:
            sandbox_world.add_firm(firm_id, f"Firm {k}", None)
    for k, firm_id in enumerate(LOOK_ALIKES):
        with sandbox_world.lock:
            sandbox_world.trigon.records.drop_firm(firm_id)
        for n in range(k + 1):
            sandbox_world.add_record(firm_id, "payment", f"2024-10-02T12:00:{n:02d}+03:00")
    return sandbox_world


@pytest.fixture
def server(world: SandboxWorld) -> Iterator[Running]:
    with run_sandbox(world) as running:
        yield running


@pytest.fixture
def trigon(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.trigon_url, timeout=5) as client:
        tokens = client.post(
            "/auth/login", json={"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD}
        ).json()
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        yield client


def test_each_encoded_firm_id_is_answered_as_itself(trigon: httpx.Client) -> None:
    for k, firm_id in enumerate(LOOK_ALIKES):
        firm = trigon.get(api_path("firms", firm_id))
        assert firm.status_code == 200, (firm_id, firm.text)
        assert firm.json()["data"]["id"] == firm_id
        count = trigon.get(api_path("firms", firm_id, "payments", "count"), params=WINDOW)
        assert count.status_code == 200, (firm_id, count.text)
        assert count.json()["data"]["count"] == k + 1, firm_id


def test_an_unencoded_slash_is_a_path_not_a_firm(trigon: httpx.Client) -> None:
    answer = trigon.get("/firms/acme/6/payments/count", params=WINDOW)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NOT_FOUND"


def test_admin_endpoints_decode_the_firm_id_too(server: Running, trigon: httpx.Client) -> None:
    with httpx.Client(base_url=server.trigon_admin_url, timeout=5) as admin:
        path = api_path("firms", "acme/6", "permissions")
        assert admin.post(path, json={"view": False}).status_code == 204
    denied = trigon.get(api_path("firms", "acme/6", "payments", "count"), params=WINDOW)
    assert denied.json()["error"]["code"] == "FIRM_VIEW_FORBIDDEN"
    fine = trigon.get(api_path("firms", "acme", "payments", "count"), params=WINDOW)
    assert fine.status_code == 200
