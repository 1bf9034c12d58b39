"""Serve both sandbox apps over real sockets on 127.0.0.1, in a background thread.

``run_sandbox`` is what tests, the demo and ``trigon-sync sandbox serve`` use: it binds
both sockets itself (port 0 = a free port, known before the servers start, no race),
runs two uvicorn servers on one event loop in a daemon thread, and stops them cleanly
when the ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trigon_sync.business_register.file_format import REGISTER_ZIP_NAME
from trigon_sync.sandbox.behaviour import CONTRACT, UkuBehaviour
from trigon_sync.sandbox.faults import Clock, FaultConfig
from trigon_sync.sandbox.seed import Seed
from trigon_sync.sandbox.seed_reader import load_seed
from trigon_sync.sandbox.world import SandboxWorld

HOST = "127.0.0.1"
START_TIMEOUT = 10.0


@dataclass
class Running:
    """A live sandbox: base URLs for the clients, admin roots for tests, and the world."""

    world: SandboxWorld
    trigon_app: Any
    uku_app: Any
    trigon_port: int
    uku_port: int

    @property
    def trigon_url(self) -> str:
        return f"http://{HOST}:{self.trigon_port}/v1"

    @property
    def trigon_test_url(self) -> str:
        """Trigon's test environment (``connect --environment test``)."""
        return f"http://{HOST}:{self.trigon_port}/test/v1"

    @property
    def register_url(self) -> str:
        """The Business Register file built from the seed (``$TRIGON_SYNC_REGISTER_URL``)."""
        return f"{self.trigon_admin_url}/register/{REGISTER_ZIP_NAME}"

    @property
    def uku_url(self) -> str:
        return f"http://{HOST}:{self.uku_port}/api/v3"

    @property
    def trigon_admin_url(self) -> str:
        return f"http://{HOST}:{self.trigon_port}/_sandbox"

    @property
    def uku_admin_url(self) -> str:
        return f"http://{HOST}:{self.uku_port}/_sandbox"

    def set_date_clock(self, date_clock: Callable[[], dt.datetime] | None) -> None:
        """Make both servers' ``Date`` headers follow ``date_clock`` (None: the real clock)."""
        for app in (self.trigon_app, self.uku_app):
            app.state.sandbox.date_clock = date_clock

    def set_faults(self, side: str = "both", **changes: Any) -> None:
        """Change fault settings of one side (``trigon``/``uku``) or both while serving."""
        apps = {
            "trigon": [self.trigon_app],
            "uku": [self.uku_app],
            "both": [self.trigon_app, self.uku_app],
        }[side]
        for app in apps:
            server = app.state.sandbox
            server.set_faults(server.config.updated(changes))

    def set_behaviour(self, **changes: Any) -> None:
        """Turn single quirks of the real Uku on or off while serving (behaviour.py)."""
        server = self.uku_app.state.sandbox
        server.behaviour = server.behaviour.updated(changes)


def _bind(port: int) -> socket.socket:
    # proto IPPROTO_TCP (not 0): asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says TCP, and without it every keep-alive answer waits ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _world(world_or_seed: SandboxWorld | Seed | Mapping[str, Any] | Path | str) -> SandboxWorld:
    if isinstance(world_or_seed, SandboxWorld):
        return world_or_seed
    if isinstance(world_or_seed, Path | str):
        return SandboxWorld(load_seed(world_or_seed))
    return SandboxWorld(world_or_seed)


@contextlib.contextmanager
def run_sandbox(
    world_or_seed: SandboxWorld | Seed | Mapping[str, Any] | Path | str,
    *,
    trigon_port: int = 0,
    uku_port: int = 0,
    faults: FaultConfig | None = None,
    trigon_faults: FaultConfig | None = None,
    uku_faults: FaultConfig | None = None,
    clock: Clock | None = None,
    uku_behaviour: UkuBehaviour = CONTRACT,
) -> Iterator[Running]:
    """Serve Trigon and Uku on 127.0.0.1 until the block ends.

    ``faults`` applies to both servers unless ``trigon_faults``/``uku_faults`` override it;
    ``uku_behaviour`` makes Uku behave like production (behaviour.PRODUCTION_LIKE) or show
    single quirks of it.
    """
    import uvicorn

    from trigon_sync.sandbox.quick_server import QuickServer
    from trigon_sync.sandbox.trigon_app import make_trigon_app
    from trigon_sync.sandbox.uku_app import make_uku_app

    world = _world(world_or_seed)
    trigon_app = make_trigon_app(world, trigon_faults or faults, clock)
    uku_app = make_uku_app(world, uku_faults or faults, clock, uku_behaviour)
    socks = [_bind(trigon_port), _bind(uku_port)]
    servers = [
        QuickServer(
            uvicorn.Config(
                app,
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="off",
                http="h11",
                loop="asyncio",
                timeout_graceful_shutdown=1,
                date_header=False,  # the pipeline sends Date from the sandbox's clock
            )
        )
        for app in (trigon_app, uku_app)
    ]
    errors: list[BaseException] = []

    def serve() -> None:
        async def both() -> None:
            await asyncio.gather(
                *(s.serve(sockets=[k]) for s, k in zip(servers, socks, strict=True))
            )

        try:
            asyncio.run(both())
        except BaseException as exc:  # surfaced to the starting thread
            errors.append(exc)

    thread = threading.Thread(target=serve, name="trigon-sync-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not all(s.started for s in servers):
        if errors or not thread.is_alive() or time.monotonic() > deadline:
            for s in servers:
                s.stop()
            thread.join(timeout=5)
            for k in socks:
                k.close()
            raise RuntimeError(f"sandbox servers did not start: {errors[:1]!r}")
        time.sleep(0.005)
    running = Running(
        world=world,
        trigon_app=trigon_app,
        uku_app=uku_app,
        trigon_port=socks[0].getsockname()[1],
        uku_port=socks[1].getsockname()[1],
    )
    try:
        yield running
    finally:
        for s in servers:
            s.stop()
        thread.join(timeout=10)
        for k in socks:
            k.close()
