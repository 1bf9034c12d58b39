"""What one sandbox server owns besides the shared world: its faults, rate buckets and clocks.

Each app (``trigon_app.py``, ``uku_app.py``) builds one with :func:`make_state`; the
pipeline (``pipeline.py``) and the admin endpoints read and change it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.datastructures import Headers

from trigon_sync.sandbox.behaviour import CONTRACT, UkuBehaviour
from trigon_sync.sandbox.faults import BucketState, Clock, FaultConfig, FaultPlan, RateLimiter
from trigon_sync.sandbox.world import SandboxWorld, Side

Bucket = tuple[str, int, str | None]  # key, limit, tier


@dataclass
class ServerState:
    """What one server owns besides the shared world: its faults, buckets and clock."""

    side: Side
    world: SandboxWorld
    faults: FaultPlan
    clock: Clock
    bucket: Callable[[str, Headers], Bucket]
    error_codes: dict[int, str]
    behaviour: UkuBehaviour = CONTRACT
    """The real Uku's quirks this server shows (behaviour.py); CONTRACT on Trigon."""
    limiter: RateLimiter = field(init=False)
    date_clock: Callable[[], dt.datetime] | None = None
    """The wall clock behind every answer's ``Date`` header (None: the real one); tests
    set it to play a server whose clock disagrees with the client's."""

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.clock)

    @property
    def config(self) -> FaultConfig:
        return self.faults.config

    def wall_now(self) -> dt.datetime:
        """The server's wall clock (``date_clock``, else the real one), in UTC."""
        now = self.date_clock() if self.date_clock is not None else dt.datetime.now(dt.UTC)
        return now.astimezone(dt.UTC)

    def date_header(self) -> bytes:
        """``Date`` as the sandbox's clock says (uvicorn's own is switched off)."""
        return email.utils.format_datetime(self.wall_now(), usegmt=True).encode()

    def set_faults(self, config: FaultConfig) -> None:
        """Swap the fault configuration; the RNG restarts from ``config.seed``."""
        self.faults = FaultPlan(config)
        self.limiter.reset()

    def limit_headers(self, bucket: BucketState) -> dict[str, str]:
        return bucket.headers(epoch_reset=self.behaviour.epoch_rate_reset)


def make_state(
    side: Side,
    world: SandboxWorld,
    faults: FaultConfig | None,
    clock: Clock | None,
    bucket: Callable[[str, Headers], Bucket],
    error_codes: dict[int, str],
    behaviour: UkuBehaviour = CONTRACT,
) -> ServerState:
    """A server's state with the defaults filled in (no faults, the monotonic clock)."""
    return ServerState(
        side=side,
        world=world,
        faults=FaultPlan(faults or FaultConfig()),
        clock=clock or time.monotonic,
        bucket=bucket,
        error_codes=error_codes,
        behaviour=behaviour,
    )
