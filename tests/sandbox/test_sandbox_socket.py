"""The sandbox over real sockets on 127.0.0.1: contract samples, admin endpoints, broken wires."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    Running,
)

UKU_HEADERS = {"X-API-Key": SANDBOX_UKU_KEY, "X-Uku-Company": SANDBOX_COMPANY}
TASK = {"title": "Monthly summary", "client_id": 101, "topic_id": 1, "date": "2024-10-31"}


@pytest.fixture
def trigon(sandbox_server: Running) -> Iterator[httpx.Client]:
    """A logged-in client for the socket-served Trigon."""
    with httpx.Client(base_url=sandbox_server.trigon_url, timeout=5) as client:
        tokens = client.post(
            "/auth/login", json={"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD}
        ).json()
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        client.headers["X-Refresh"] = tokens["refresh_token"]  # kept here for the test only
        yield client


@pytest.fixture
def uku(sandbox_server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_server.uku_url, headers=UKU_HEADERS, timeout=5) as c:
        yield c


@pytest.fixture
def admin(sandbox_server: Running) -> Iterator[dict[str, httpx.Client]]:
    with (
        httpx.Client(base_url=sandbox_server.trigon_admin_url, timeout=5) as t,
        httpx.Client(base_url=sandbox_server.uku_admin_url, timeout=5) as u,
    ):
        yield {"trigon": t, "uku": u}


def viewable(seed: dict[str, Any]) -> str:
    no_view = set(seed["anomalies"]["no_view"])
    return next(f["id"] for f in seed["trigon"]["firms"] if f["id"] not in no_view)


def test_urls_point_at_loopback(sandbox_server: Running) -> None:
    """Both base URLs are on 127.0.0.1 with the contract's path prefixes."""
    assert sandbox_server.trigon_url.startswith("http://127.0.0.1:")
    assert sandbox_server.trigon_url.endswith("/v1")
    assert sandbox_server.uku_url.endswith("/api/v3")
    assert sandbox_server.trigon_port != sandbox_server.uku_port


def test_trigon_reads_over_a_socket(trigon: httpx.Client, sandbox_seed_dict: dict) -> None:
    """Login, firms, count and the 403/404 codes work the same over HTTP/1.1."""
    firms = trigon.get("/firms", params={"per_page": 200}).json()
    assert firms["pagination"]["total"] == len(sandbox_seed_dict["trigon"]["firms"])
    firm = viewable(sandbox_seed_dict)
    window = {"created_from": "2024-09-01", "created_to": "2025-06-30"}
    assert trigon.get(f"/firms/{firm}/payments/count", params=window).status_code == 200
    no_view = sandbox_seed_dict["anomalies"]["no_view"][0]
    denied = trigon.get(f"/firms/{no_view}/payments/count", params=window)
    assert denied.json()["error"]["code"] == "FIRM_VIEW_FORBIDDEN"
    assert trigon.get("/firms/zzz").json()["error"]["code"] == "FIRM_NOT_FOUND"


def test_request_log_proves_what_the_trigon_side_received(
    trigon: httpx.Client, admin: dict[str, httpx.Client]
) -> None:
    """GET /_sandbox/requests lists method, path and status of every API request, in order."""
    trigon.get("/me")
    log = admin["trigon"].get("/requests").json()["data"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/v1/auth/login", 200),
        ("GET", "/v1/me", 200),
    ]


def test_uku_writes_idempotency_and_inspection(
    uku: httpx.Client, admin: dict[str, httpx.Client], sandbox_seed_dict: dict
) -> None:
    """A replayed POST over HTTP is visible in /_sandbox/writes and /_sandbox/state."""
    key = {"Idempotency-Key": "sock-1"}
    first = uku.post("/tasks", json=TASK, headers=key)
    second = uku.post("/tasks", json=TASK, headers=key)
    assert second.headers["Idempotency-Replayed"] == "true"
    assert second.json() == first.json()
    conflict = uku.post("/tasks", json={**TASK, "title": "x"}, headers=key)
    assert conflict.status_code == 409
    writes = admin["uku"].get("/writes").json()["data"]
    assert [(w["status"], w["replayed"], w["idempotency_key"]) for w in writes] == [
        (201, False, "sock-1"),
        (201, True, "sock-1"),
        (409, False, "sock-1"),
    ]
    state = admin["uku"].get("/state").json()["data"]
    assert [t["id"] for t in state["tasks"]] == [first.json()["data"]["id"]]
    assert len(state["clients"]) == len(sandbox_seed_dict["uku"]["clients"])


def test_uku_rate_limit_over_a_socket(
    sandbox_server: Running, uku: httpx.Client, admin: dict[str, httpx.Client]
) -> None:
    """With the write bucket set to 2, the third write is 429 with Retry-After and headers."""
    admin["uku"].post("/faults", json={"uku_write_limit": 2, "window_seconds": 30})
    statuses = [uku.post("/clients", json={"name": f"C{n}"}).status_code for n in range(3)]
    assert statuses == [201, 201, 429]
    limited = uku.post("/clients", json={"name": "late"})
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Tier"] == "write"


def test_admin_permissions_users_and_tokens(
    trigon: httpx.Client, admin: dict[str, httpx.Client], sandbox_seed_dict: dict
) -> None:
    """Admin POSTs revoke View, deactivate users and expire/revoke tokens, seen by the API."""
    firm = viewable(sandbox_seed_dict)
    window = {"created_from": "2024-09-01", "created_to": "2025-06-30"}
    assert admin["trigon"].post(f"/firms/{firm}/permissions", json={"view": False}).status_code
    assert trigon.get(f"/firms/{firm}/payments/count", params=window).status_code == 403
    admin["trigon"].post(f"/firms/{firm}/permissions", json={"view": True})
    assert trigon.get(f"/firms/{firm}/payments/count", params=window).status_code == 200

    refresh = trigon.headers["X-Refresh"]
    assert admin["trigon"].post("/expire-tokens").json()["data"]["expired"] >= 1
    assert trigon.get("/me").json()["error"]["code"] == "ACCESS_TOKEN_EXPIRED"
    assert admin["trigon"].post("/revoke-tokens", json={}).json()["data"]["revoked"] == 1
    answer = trigon.post("/auth/refresh", json={"refresh_token": refresh})
    assert answer.json()["error"]["code"] == "REFRESH_TOKEN_REVOKED"

    admin["trigon"].post(f"/users/{SANDBOX_EMAIL}/active", json={"active": False})
    again = trigon.post("/auth/login", json={"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD})
    assert again.json()["error"]["code"] == "USER_INACTIVE"
    assert (
        admin["trigon"].post("/users/nobody@x.ee/active", json={"active": False}).status_code == 404
    )
    assert admin["trigon"].post(f"/firms/{firm}/remove").status_code == 204
    assert admin["trigon"].post(f"/firms/{firm}/remove").status_code == 404


def test_admin_adds_firms_and_records(trigon: httpx.Client, admin: dict[str, httpx.Client]) -> None:
    """New firms and records posted to the admin API are counted at once."""
    admin["trigon"].post("/firms", json={"id": "n1", "name": "Uus OÜ", "registration_code": "1"})
    added = admin["trigon"].post(
        "/records",
        json={
            "records": [
                {"firm": "n1", "type": "payment", "created_at": "2024-10-30T23:59:59+03:00"}
            ]
        },
    )
    assert added.json() == {"data": {"added": 1}}
    window = {"created_from": "2024-10-30", "created_to": "2024-10-30"}
    assert trigon.get("/firms/n1/payments/count", params=window).json() == {"data": {"count": 1}}
    bad = admin["trigon"].post("/records", json={"records": [{"firm": "nope"}]})
    assert bad.status_code == 400


def test_dropped_connection_is_an_incomplete_response(
    sandbox_server: Running, uku: httpx.Client
) -> None:
    """Over a socket a drop sends the head then hangs up: the client sees a protocol error."""
    sandbox_server.set_faults("uku", drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        uku.get("/topics")
    sandbox_server.set_faults("uku", drop_rate=0.0)
    assert uku.get("/topics").status_code == 200


def test_slow_answer_times_the_client_out(sandbox_server: Running) -> None:
    """A timeout fault answers after slow_seconds, later than a short client timeout."""
    sandbox_server.set_faults("uku", timeout_rate=1.0, slow_seconds=0.5)
    with (
        httpx.Client(base_url=sandbox_server.uku_url, headers=UKU_HEADERS, timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("/topics")


def test_faults_endpoint_round_trip(admin: dict[str, httpx.Client]) -> None:
    """GET /_sandbox/faults shows the config; POST changes it and echoes the result."""
    assert admin["uku"].get("/faults").json()["data"]["error_rate"] == 0.0
    changed = admin["uku"].post("/faults", json={"error_rate": 0.25, "seed": 9}).json()["data"]
    assert (changed["error_rate"], changed["seed"]) == (0.25, 9)
    assert admin["trigon"].get("/faults").json()["data"]["error_rate"] == 0.0


def test_uku_settings_endpoint(uku: httpx.Client, admin: dict[str, httpx.Client]) -> None:
    """POST /_sandbox/settings switches the plan, and back."""
    admin["uku"].post("/settings", json={"plan": "starter"})
    assert uku.get("/clients").json()["error"]["details"] == {"reason": "plan"}
    admin["uku"].post("/settings", json={"plan": "team"})
    assert uku.get("/clients").status_code == 200
    assert admin["uku"].post("/settings", json={"plan": "gold"}).status_code == 400


@pytest.mark.parametrize("open_connection", [False, True], ids=["idle", "keep-alive open"])
def test_the_sandbox_stops_and_frees_its_ports(
    sandbox_seed_dict: dict[str, Any], open_connection: bool
) -> None:
    """The end of the ``with`` block stops both servers, with no client connected (the
    quick path) and with a keep-alive connection still open (uvicorn's graceful close):
    the serving thread is gone and nothing answers on the ports any more."""
    import threading

    from trigon_sync.sandbox import run_sandbox

    def serving() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "trigon-sync-sandbox"}

    before = serving()  # another test's sandbox may be serving in this worker
    client = httpx.Client(headers=UKU_HEADERS, timeout=5)
    try:
        with run_sandbox(sandbox_seed_dict) as running:
            assert client.get(f"{running.uku_url}/topics").status_code == 200
            if not open_connection:
                client.close()
            assert serving() - before  # this sandbox's thread, while it serves
            urls = (running.trigon_url, running.uku_url)
        assert serving() <= before
        for url in urls:
            with pytest.raises(httpx.TransportError):
                httpx.get(url, timeout=2)
    finally:
        client.close()
