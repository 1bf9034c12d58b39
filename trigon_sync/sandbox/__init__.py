"""Local Trigon and Uku servers with seed data and fault injection (the ``sandbox`` extra).

Public API (see docs/sandbox.md)::

    load_seed(path) -> Seed                  parse_seed(dict) -> Seed
    generate_seed(n_firms, seed=0, **knobs) -> dict
    SandboxWorld(seed)                       mutable state + request/write logs
    make_trigon_app(world, faults=None, clock=None) -> Starlette
    make_uku_app(world, faults=None, clock=None) -> Starlette
    run_sandbox(world_or_seed, *, trigon_port=0, uku_port=0, faults=None) -> ctx[Running]
    SyncASGITransport(app)                   in-process transport for a sync httpx.Client
    FaultConfig, ManualClock

Starlette, uvicorn and httpx-on-ASGI are imported only when an app, the runner or the
transport is first used, so ``import trigon_sync.sandbox`` costs nothing for the core CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trigon_sync.sandbox.faults import FaultConfig, ManualClock
from trigon_sync.sandbox.generator import (
    SANDBOX_API_KEY,
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_ID_TOKEN,
    SANDBOX_PASSWORD,
    SANDBOX_TEST_API_KEY,
    SANDBOX_TEST_ID_TOKEN,
    SANDBOX_UKU_KEY,
    generate_seed,
)
from trigon_sync.sandbox.seed import Seed, SeedError
from trigon_sync.sandbox.seed_reader import load_seed, parse_seed
from trigon_sync.sandbox.world import SandboxWorld

if TYPE_CHECKING:
    from trigon_sync.sandbox.pipeline import ConnectionDropped
    from trigon_sync.sandbox.runner import Running, run_sandbox
    from trigon_sync.sandbox.transport import SyncASGITransport
    from trigon_sync.sandbox.trigon_app import make_trigon_app
    from trigon_sync.sandbox.uku_app import make_uku_app

_LAZY = {
    "make_trigon_app": "trigon_sync.sandbox.trigon_app",
    "make_uku_app": "trigon_sync.sandbox.uku_app",
    "run_sandbox": "trigon_sync.sandbox.runner",
    "Running": "trigon_sync.sandbox.runner",
    "SyncASGITransport": "trigon_sync.sandbox.transport",
    "ConnectionDropped": "trigon_sync.sandbox.pipeline",
}

__all__ = [
    "SANDBOX_API_KEY",
    "SANDBOX_COMPANY",
    "SANDBOX_EMAIL",
    "SANDBOX_ID_TOKEN",
    "SANDBOX_PASSWORD",
    "SANDBOX_TEST_API_KEY",
    "SANDBOX_TEST_ID_TOKEN",
    "SANDBOX_UKU_KEY",
    "ConnectionDropped",
    "FaultConfig",
    "ManualClock",
    "Running",
    "SandboxWorld",
    "Seed",
    "SeedError",
    "SyncASGITransport",
    "generate_seed",
    "load_seed",
    "make_trigon_app",
    "make_uku_app",
    "parse_seed",
    "run_sandbox",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
