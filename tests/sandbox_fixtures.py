"""Sandbox fixtures for the API and sandbox tests: a world, its apps in-process, and a
socket-served pair (a plugin of tests/conftest.py, so tests/api and tests/sandbox share it).

In-process fixtures use :class:`SyncASGITransport`, so a plain synchronous
``httpx.Client`` (what trigon-sync's clients are) talks to the app without sockets.
``sandbox_server`` serves the same world on free 127.0.0.1 ports for tests that need real
HTTP (timeouts, dropped connections, subprocesses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    FaultConfig,
    ManualClock,
    Running,
    SandboxWorld,
    SyncASGITransport,
    generate_seed,
    make_trigon_app,
    make_uku_app,
    run_sandbox,
)
from trigon_sync.sandbox.seed import Seed
from trigon_sync.sandbox.seed_reader import parse_seed

TRIGON_BASE = "http://trigon.test/v1"
UKU_BASE = "http://uku.test/api/v3"
UKU_HEADERS = {"X-API-Key": SANDBOX_UKU_KEY, "X-Uku-Company": SANDBOX_COMPANY}


@pytest.fixture(scope="session")
def sandbox_seed_dict() -> dict[str, Any]:
    """A generated 30-firm seed (with every anomaly); treat as read-only."""
    return generate_seed(30, seed=7)


_LAST_READ: list[tuple[dict[str, Any], Seed]] = []
"""The last seed document read and its Seed (one slot: the session's document, unless a
module overrides ``sandbox_seed_dict`` with one of its own)."""


@pytest.fixture
def sandbox_seed(sandbox_seed_dict: dict[str, Any]) -> Seed:
    """``sandbox_seed_dict`` checked and read, once while it is the same document: a world
    built from it skips re-reading the document (worlds of one Seed share nothing:
    tests/api/test_world_seeds.py)."""
    if not _LAST_READ or _LAST_READ[0][0] is not sandbox_seed_dict:
        _LAST_READ[:] = [(sandbox_seed_dict, parse_seed(sandbox_seed_dict))]
    return _LAST_READ[0][1]


@pytest.fixture
def sandbox_world(sandbox_seed: Seed) -> SandboxWorld:
    """A fresh world per test, so changes and logs never leak between tests."""
    return SandboxWorld(sandbox_seed)


@pytest.fixture
def sandbox_clock() -> ManualClock:
    """The clock the in-process apps use for rate windows and token expiry."""
    return ManualClock()


@pytest.fixture
def sandbox_faults() -> FaultConfig:
    """Override in a test module to serve the in-process apps with faults."""
    return FaultConfig()


@pytest.fixture
def trigon_app(
    sandbox_world: SandboxWorld, sandbox_faults: FaultConfig, sandbox_clock: ManualClock
) -> Any:
    return make_trigon_app(sandbox_world, sandbox_faults, sandbox_clock)


@pytest.fixture
def uku_app(
    sandbox_world: SandboxWorld, sandbox_faults: FaultConfig, sandbox_clock: ManualClock
) -> Any:
    return make_uku_app(sandbox_world, sandbox_faults, sandbox_clock)


@pytest.fixture
def asgi_transport() -> Iterator[Callable[[Any], SyncASGITransport]]:
    """A factory for in-process transports, all closed at teardown."""
    made: list[SyncASGITransport] = []

    def make(app: Any) -> SyncASGITransport:
        made.append(SyncASGITransport(app))
        return made[-1]

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def trigon_http(
    trigon_app: Any, asgi_transport: Callable[[Any], SyncASGITransport]
) -> Iterator[httpx.Client]:
    """A raw client for the in-process Trigon app (no auth header)."""
    with httpx.Client(transport=asgi_transport(trigon_app), base_url=TRIGON_BASE) as client:
        yield client


@pytest.fixture
def trigon_token(trigon_http: httpx.Client) -> str:
    """An access token for admin@firm.ee."""
    answer = trigon_http.post(
        "/auth/login", json={"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD}
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.fixture
def trigon_authed(trigon_http: httpx.Client, trigon_token: str) -> httpx.Client:
    """The in-process Trigon client, logged in as admin@firm.ee."""
    trigon_http.headers["Authorization"] = f"Bearer {trigon_token}"
    return trigon_http


@pytest.fixture
def uku_http(
    uku_app: Any, asgi_transport: Callable[[Any], SyncASGITransport]
) -> Iterator[httpx.Client]:
    """The in-process Uku client with the seeded key and company headers."""
    with httpx.Client(
        transport=asgi_transport(uku_app), base_url=UKU_BASE, headers=UKU_HEADERS
    ) as client:
        yield client


@pytest.fixture
def sandbox_server(sandbox_world: SandboxWorld) -> Iterator[Running]:
    """Both servers on free 127.0.0.1 ports, serving ``sandbox_world``."""
    with run_sandbox(sandbox_world) as running:
        yield running
