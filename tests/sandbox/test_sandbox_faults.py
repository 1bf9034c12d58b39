"""Fault injection and rate limits: deterministic from a seed, on an injectable clock."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_UKU_KEY,
    FaultConfig,
    ManualClock,
    SandboxWorld,
    SyncASGITransport,
    make_trigon_app,
    make_uku_app,
)
from trigon_sync.sandbox.faults import FaultPlan

UKU_HEADERS = {"X-API-Key": SANDBOX_UKU_KEY, "X-Uku-Company": SANDBOX_COMPANY}
MIXED = FaultConfig(
    seed=42,
    error_rate=0.1,
    rate_limit_burst_rate=0.1,
    drop_rate=0.1,
    timeout_rate=0.1,
    slow_seconds=0.05,
    malformed_json_rate=0.1,
)


def uku_client(world: SandboxWorld, faults: FaultConfig, clock: Any = None) -> httpx.Client:
    transport = SyncASGITransport(make_uku_app(world, faults, clock))
    return httpx.Client(
        transport=transport, base_url="http://uku.test/api/v3", headers=UKU_HEADERS, timeout=2.0
    )


def outcomes(client: httpx.Client, n: int) -> list[str]:
    """What a client sees for n GETs: a status, 'drop', 'timeout' or 'malformed'."""
    seen = []
    for _ in range(n):
        try:
            answer = client.get("/topics")
        except httpx.RemoteProtocolError:
            seen.append("drop")
            continue
        except httpx.ReadTimeout:
            seen.append("timeout")
            continue
        try:
            answer.json()
        except json.JSONDecodeError:
            seen.append("malformed")
            continue
        seen.append(str(answer.status_code))
    return seen


def test_same_seed_gives_the_same_fault_sequence(sandbox_seed_dict: dict[str, Any]) -> None:
    """Two servers with the same fault seed fail the same requests the same way."""
    runs = []
    for _ in range(2):
        with uku_client(SandboxWorld(sandbox_seed_dict), MIXED) as client:
            runs.append(outcomes(client, 60))
    assert runs[0] == runs[1]
    assert {"200", "429", "drop", "malformed"} <= set(runs[0])
    assert {"500", "502", "503"} & set(runs[0])


def test_another_seed_gives_another_sequence() -> None:
    """Different seeds draw different fault sequences (the plan, not the network, decides)."""
    a = [FaultPlan(MIXED).decide("GET", "/x").kind for _ in range(200)]
    b_plan = FaultPlan(FaultConfig(**{**MIXED.to_dict(), "seed": 43, "exempt_paths": ()}))
    b = [b_plan.decide("GET", "/x").kind for _ in range(200)]
    assert a != b
    assert a == [FaultPlan(MIXED).decide("GET", "/x").kind for _ in range(200)]


def test_rates_are_roughly_honoured() -> None:
    """Over many draws each fault kind appears at about its configured rate."""
    plan = FaultPlan(MIXED)
    kinds = [plan.decide("GET", "/x").kind for _ in range(5000)]
    for kind in ("error", "rate_limit", "drop", "timeout", "malformed"):
        assert 0.08 < kinds.count(kind) / 5000 < 0.12


def test_the_draw_sequence_ignores_exempt_paths() -> None:
    """Exempt paths still draw, so exempting a path never shifts the faults of others."""
    cfg = FaultConfig(seed=1, error_rate=0.5, exempt_paths=("/v1/auth/",))
    plan = FaultPlan(cfg)
    seq = [
        plan.decide("POST" if i % 3 == 0 else "GET", "/v1/auth/login" if i % 3 == 0 else "/x")
        for i in range(30)
    ]
    assert all(d.kind is None for d in seq[::3])
    reference = FaultPlan(FaultConfig(seed=1, error_rate=0.5))
    expected = [reference.decide("GET", "/x").kind for _ in range(30)]
    assert [d.kind for i, d in enumerate(seq) if i % 3] == [
        k for i, k in enumerate(expected) if i % 3
    ]


def test_burst_429_carries_retry_after(sandbox_seed_dict: dict[str, Any]) -> None:
    """A 429 burst answers RATE_LIMITED with the configured Retry-After and Remaining 0."""
    faults = FaultConfig(rate_limit_burst_rate=1.0, retry_after_seconds=3)
    with uku_client(SandboxWorld(sandbox_seed_dict), faults) as client:
        answer = client.get("/topics")
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "RATE_LIMITED"
    assert answer.headers["Retry-After"] == "3"
    assert answer.headers["X-RateLimit-Remaining"] == "0"


def test_write_bucket_limit_window_and_reset(sandbox_seed_dict: dict[str, Any]) -> None:
    """Past the write limit: 429 + Retry-After; reads still pass; the window resets."""
    clock = ManualClock()
    faults = FaultConfig(uku_write_limit=3, window_seconds=10)
    with uku_client(SandboxWorld(sandbox_seed_dict), faults, clock) as client:
        statuses = [client.post("/clients", json={"name": f"C{n}"}).status_code for n in range(4)]
        assert statuses == [201, 201, 201, 429]
        clock.advance(4)
        limited = client.post("/clients", json={"name": "late"})
        assert limited.headers["Retry-After"] == "6"
        assert limited.headers["X-RateLimit-Tier"] == "write"
        assert client.get("/clients").status_code == 200
        clock.advance(6)
        again = client.post("/clients", json={"name": "after reset"})
        assert again.status_code == 201
        assert again.headers["X-RateLimit-Remaining"] == "2"


def test_trigon_bucket_is_per_user(sandbox_seed_dict: dict[str, Any]) -> None:
    """Trigon limits each user separately; an exhausted user gets 429 RATE_LIMITED."""
    world = SandboxWorld(sandbox_seed_dict)
    app = make_trigon_app(world, FaultConfig(trigon_limit=3), ManualClock())
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://t/v1") as client:
        token = client.post(
            "/auth/login", json={"email": "admin@firm.ee", "password": "sandbox-password"}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        statuses = [client.get("/me", headers=auth).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        # the anonymous bucket (login) is separate and has room left
        assert client.post("/auth/login", json={}).status_code == 400


def test_error_after_commit_keeps_the_write_and_replays(sandbox_seed_dict: dict[str, Any]) -> None:
    """A 5xx after the commit: the task exists; the retry with the same key is replayed."""
    world = SandboxWorld(sandbox_seed_dict)
    body = {"title": "T", "client_id": 101, "topic_id": 1, "date": "2024-10-31"}
    key = {"Idempotency-Key": "after-1"}
    with uku_client(world, FaultConfig(error_rate=1.0, write_phase="after")) as client:
        failed = client.post("/tasks", json=body, headers=key)
    assert failed.status_code in (500, 502, 503)
    assert len(world.uku_state()["tasks"]) == 1
    with uku_client(world, FaultConfig()) as client:
        retry = client.post("/tasks", json=body, headers=key)
    assert retry.status_code == 201 and retry.headers["Idempotency-Replayed"] == "true"
    assert len(world.uku_state()["tasks"]) == 1
    first, second = world.writes()
    assert (first["status"], first["after_fault"], first["client_status"]) == (201, "error", None)
    assert (second["replayed"], second["client_status"]) == (True, 201)


def test_error_before_commit_writes_nothing(sandbox_seed_dict: dict[str, Any]) -> None:
    """A 5xx before the commit leaves no task and no write entry."""
    world = SandboxWorld(sandbox_seed_dict)
    body = {"title": "T", "client_id": 101, "topic_id": 1, "date": "2024-10-31"}
    with uku_client(world, FaultConfig(error_rate=1.0, write_phase="before")) as client:
        assert client.post("/tasks", json=body).status_code >= 500
    assert world.uku_state()["tasks"] == [] and world.writes() == []
    assert world.requests("uku")[0]["fault"] == "error"


def test_drop_after_commit_in_process(sandbox_seed_dict: dict[str, Any]) -> None:
    """In-process a dropped connection raises RemoteProtocolError; after-phase keeps the write."""
    world = SandboxWorld(sandbox_seed_dict)
    with (
        uku_client(world, FaultConfig(drop_rate=1.0, write_phase="after")) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.post("/clients", json={"name": "Dropped OÜ"})
    assert [c["name"] for c in world.uku_state()["clients"]][-1] == "Dropped OÜ"
    assert world.writes()[0]["after_fault"] == "drop"
    assert world.requests("uku")[0]["status"] is None


def test_timeout_in_process_respects_the_client_timeout(sandbox_seed_dict: dict[str, Any]) -> None:
    """A slow answer beyond the client's read timeout raises ReadTimeout in-process."""
    world = SandboxWorld(sandbox_seed_dict)
    faults = FaultConfig(timeout_rate=1.0, slow_seconds=5)
    transport = SyncASGITransport(make_uku_app(world, faults))
    with (
        httpx.Client(
            transport=transport, base_url="http://u/api/v3", headers=UKU_HEADERS, timeout=0.2
        ) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("/topics")
    transport.close()


def test_malformed_json_keeps_status_but_breaks_the_body(
    sandbox_seed_dict: dict[str, Any],
) -> None:
    """Malformed answers keep their status and headers but the body is not JSON."""
    with uku_client(SandboxWorld(sandbox_seed_dict), FaultConfig(malformed_json_rate=1.0)) as c:
        answer = c.get("/topics")
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def test_latency_is_added(sandbox_seed_dict: dict[str, Any]) -> None:
    """latency_ms delays every answer by at least that much."""
    with uku_client(SandboxWorld(sandbox_seed_dict), FaultConfig(latency_ms=30)) as client:
        started = time.monotonic()
        client.get("/topics")
        assert time.monotonic() - started >= 0.03


def test_fault_config_rejects_impossible_settings() -> None:
    """Rates outside 0..1, rates adding up past 1 and unknown names are errors."""
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ValueError, match="more than 1"):
        FaultConfig(error_rate=0.6, drop_rate=0.6)
    with pytest.raises(ValueError, match="unknown"):
        FaultConfig().updated({"eror_rate": 0.1})


def test_admin_paths_are_never_faulted_or_logged(
    sandbox_seed_dict: dict[str, Any],
) -> None:
    """/_sandbox/ answers normally under 100% faults and does not enter the request log."""
    world = SandboxWorld(sandbox_seed_dict)
    app = make_uku_app(world, FaultConfig(error_rate=1.0))
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://u") as client:
        assert client.get("/_sandbox/state").status_code == 200
        changed = client.post("/_sandbox/faults", json={"error_rate": 0.0, "seed": 5})
        assert changed.json()["data"]["seed"] == 5
        assert client.get("/api/v3/topics", headers=UKU_HEADERS).status_code == 200
        bad = client.post("/_sandbox/faults", json={"error_rate": 3})
        assert bad.status_code == 400
    assert [r["path"] for r in world.requests("uku")] == ["/api/v3/topics"]


def test_server_errors_use_each_side_s_codes(sandbox_seed_dict: dict[str, Any]) -> None:
    """Injected 500/502/503 carry Trigon's per-status codes and Uku's INTERNAL_ERROR."""
    world = SandboxWorld(sandbox_seed_dict)
    faults = FaultConfig(error_rate=1.0, seed=2)
    expected = {500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "UNAVAILABLE"}
    app = make_trigon_app(world, faults)
    with httpx.Client(transport=SyncASGITransport(app), base_url="http://t/v1") as client:
        answers = [client.get("/me") for _ in range(30)]
    assert {a.status_code for a in answers} == set(expected)
    assert all(a.json()["error"]["code"] == expected[a.status_code] for a in answers)
    with uku_client(world, faults) as client:
        answers = [client.get("/topics") for _ in range(10)]
    assert {a.json()["error"]["code"] for a in answers} == {"INTERNAL_ERROR"}
