"""Bad days on purpose: fault injection and rate-limit buckets, reproducible from a seed.

Every non-admin request draws exactly three numbers from one ``random.Random(seed)`` in
arrival order, whatever the configuration, so the same seed and the same request order
give the same sequence of faults (tests compare ``[d.kind for d in decisions]``).

Faults on writes have a *phase*: ``before`` (the handler never runs; nothing committed)
or ``after`` (the handler ran and committed, then the client gets a 5xx, a dropped
connection or a late answer) — the case idempotency keys exist for.

Rate limits are fixed windows per bucket on an injectable clock (seconds; default
``time.monotonic``), so tests drive windows with :class:`ManualClock` instead of freezegun.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Clock = Callable[[], float]
FaultKind = Literal["error", "rate_limit", "drop", "timeout", "malformed"]
Phase = Literal["before", "after"]

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True)
class FaultConfig:
    """What can go wrong and how often; rates are fractions of requests (0..1, summing <= 1).

    ``write_phase`` chooses when a 5xx/drop/timeout hits a write: ``before`` the commit,
    ``after`` it, or ``mixed`` (half and half, drawn from the seed). ``exempt_paths`` are
    path prefixes (e.g. ``/v1/auth/``) that still draw but never fail.
    """

    seed: int = 0
    latency_ms: float = 0.0
    error_rate: float = 0.0
    rate_limit_burst_rate: float = 0.0
    retry_after_seconds: int = 1
    drop_rate: float = 0.0
    timeout_rate: float = 0.0
    slow_seconds: float = 35.0
    malformed_json_rate: float = 0.0
    write_phase: Literal["before", "after", "mixed"] = "mixed"
    post_commit_fail_rate: float = 0.0
    """Of the POSTs no other fault hit, this fraction is committed and then answered with
    a 5xx or a dropped connection: the create happened, the client cannot know it."""
    exempt_paths: tuple[str, ...] = ()
    trigon_limit: int = 600
    uku_read_limit: int = 1200
    uku_write_limit: int = 600
    window_seconds: float = 60.0
    echo_status: int = 0
    """When set (400-599), every non-exempt request is answered with this status and an
    error whose code, message and details quote every secret the world knows (keys,
    passwords, tokens): how a careless real server leaks them into our output."""

    def __post_init__(self) -> None:
        problems = []
        rates = {
            "error_rate": self.error_rate,
            "rate_limit_burst_rate": self.rate_limit_burst_rate,
            "drop_rate": self.drop_rate,
            "timeout_rate": self.timeout_rate,
            "malformed_json_rate": self.malformed_json_rate,
        }
        if not 0.0 <= self.post_commit_fail_rate <= 1.0:
            problems.append("post_commit_fail_rate must be between 0 and 1")
        for name, value in rates.items():
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        if sum(rates.values()) > 1.0 + 1e-9:
            problems.append("the fault rates add up to more than 1")
        if self.write_phase not in ("before", "after", "mixed"):
            problems.append("write_phase must be before, after or mixed")
        for name in ("trigon_limit", "uku_read_limit", "uku_write_limit"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.window_seconds <= 0 or self.latency_ms < 0 or self.slow_seconds < 0:
            problems.append("window_seconds, latency_ms and slow_seconds must be positive")
        if self.echo_status and not 400 <= self.echo_status <= 599:
            problems.append("echo_status must be 0 (off) or an error status 400-599")
        if self.retry_after_seconds < 0:
            problems.append("retry_after_seconds must not be negative")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["exempt_paths"] = list(self.exempt_paths)
        return data

    def updated(self, changes: Mapping[str, Any]) -> FaultConfig:
        """A copy with ``changes`` applied; unknown names are a ``ValueError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(unknown)}")
        values = dict(changes)
        if "exempt_paths" in values:
            values["exempt_paths"] = tuple(values["exempt_paths"])
        return dataclasses.replace(self, **values)


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one request; ``kind`` None means it is served normally."""

    seq: int
    kind: FaultKind | None = None
    status: int | None = None
    phase: Phase = "before"


class FaultPlan:
    """Draws one :class:`FaultDecision` per request from ``random.Random(config.seed)``."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._seq = 0

    def decide(self, method: str, path: str) -> FaultDecision:
        """The fate of the next request in arrival order (always three draws)."""
        cfg = self.config
        with self._lock:
            self._seq += 1
            seq = self._seq
            u, v, w = self._rng.random(), self._rng.random(), self._rng.random()
        if any(path.startswith(prefix) for prefix in cfg.exempt_paths):
            return FaultDecision(seq)
        kind: FaultKind | None = None
        edge = 0.0
        for name, rate in (
            ("error", cfg.error_rate),
            ("rate_limit", cfg.rate_limit_burst_rate),
            ("drop", cfg.drop_rate),
            ("timeout", cfg.timeout_rate),
            ("malformed", cfg.malformed_json_rate),
        ):
            edge += rate
            if u < edge:
                kind = name  # type: ignore[assignment]  # each name above is a FaultKind
                break
        if kind is None and method.upper() == "POST" and w < cfg.post_commit_fail_rate:
            # w decides the phase of other faults only, so this keeps the three draws
            if v < 0.5:
                return FaultDecision(seq, "error", ERROR_STATUSES[int(v * 6) % 3], "after")
            return FaultDecision(seq, "drop", None, "after")
        if kind is None:
            return FaultDecision(seq)
        status = ERROR_STATUSES[int(v * len(ERROR_STATUSES)) % 3] if kind == "error" else None
        phase: Phase = "before"
        late = cfg.write_phase == "after" or (cfg.write_phase == "mixed" and w < 0.5)
        if kind in ("error", "drop", "timeout") and method.upper() in WRITE_METHODS and late:
            phase = "after"
        if kind == "malformed":
            phase = "after"
        return FaultDecision(seq, kind, status, phase)


@dataclass(frozen=True)
class BucketState:
    """One bucket after a hit: the numbers the X-RateLimit-* headers carry."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    tier: str | None = None
    reset_epoch: float | None = None
    """The wall-clock moment the window ends, when the limiter knows it."""

    def headers(self, *, epoch_reset: bool = False) -> dict[str, str]:
        """The headers; ``epoch_reset`` sends the reset as the epoch second (the real Uku)
        instead of the seconds until it."""
        if not epoch_reset:
            reset = self.reset_seconds
        elif self.reset_epoch is not None:
            reset = math.ceil(self.reset_epoch - 0.001)  # a whole second for aligned windows
        else:
            reset = math.ceil(time.time()) + self.reset_seconds
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(reset),
        }
        if self.tier:
            out["X-RateLimit-Tier"] = self.tier
        return out


class RateLimiter:
    """Fixed-window counters per bucket key; a refused request does not use up the bucket.

    A window opens with the first request after the last one ended. With
    ``whole_seconds`` (the real Uku's epoch-second reset) it opens at the last whole second
    of the wall clock instead, so that the epoch second it announces is exactly its end.
    """

    def __init__(self, clock: Clock | None = None, wall: Clock = time.time) -> None:
        self.clock: Clock = clock or time.monotonic
        self.wall = wall
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(
        self,
        key: str,
        limit: int,
        window: float,
        tier: str | None = None,
        *,
        whole_seconds: bool = False,
    ) -> BucketState:
        now = self.clock()
        wall = self.wall()
        with self._lock:
            start, used = self._windows.get(key, (-math.inf, 0))
            if now >= start + window:
                start, used = (now - wall % 1.0 if whole_seconds else now), 0
            reset = max(1, math.ceil(start + window - now))
            reset_epoch = wall + (start + window - now)
            if used >= limit:
                self._windows[key] = (start, used)
                return BucketState(False, limit, 0, reset, tier, reset_epoch)
            used += 1
            self._windows[key] = (start, used)
            return BucketState(True, limit, limit - used, reset, tier, reset_epoch)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


class ManualClock:
    """A clock tests move by hand: ``clock.advance(61)`` ends a one-minute window."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
