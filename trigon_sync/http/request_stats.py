"""What one API client sent (per method, retries, 429s) and the service's clock.

Benchmarks and run summaries read the counters; the clock-skew guard (http/clock_skew.py) reads the
last ``Date`` a service sent together with the local wall clock when it arrived.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from trigon_sync import clock as wallclock
from trigon_sync.http import clock_skew as skew
from trigon_sync.http.pacer import parse_http_date

Wall = Callable[[], dt.datetime]


class ServerClock:
    """The last ``Date`` a service sent and the local wall clock when it arrived."""

    def __init__(self, wall: Wall | None = None) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._sample: skew.DateSample | None = None

    def observe(self, headers: httpx.Headers) -> None:
        server = parse_http_date(headers.get("Date"))
        if server is None:
            return
        local = self._wall() if self._wall is not None else wallclock.now()
        with self._lock:
            self._sample = skew.DateSample(server=server, local=local)

    @property
    def sample(self) -> skew.DateSample | None:
        with self._lock:
            return self._sample


class RequestStats:
    """Thread-safe counters of what one client sent, for benchmarks and run summaries."""

    def __init__(self, wall: Wall | None = None) -> None:
        self._lock = threading.Lock()
        self.by_method: Counter[str] = Counter()
        self.retries = 0
        self.rate_limited = 0
        self.server_clock = ServerClock(wall)
        """The service's time as its last answer told it (for the clock-skew guard)."""

    def count(self, method: str) -> None:
        with self._lock:
            self.by_method[method] += 1

    def count_retry(self, *, rate_limited: bool) -> None:
        with self._lock:
            self.retries += 1
            if rate_limited:
                self.rate_limited += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_method.values())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.by_method),
                "total": sum(self.by_method.values()),
                "retries": self.retries,
                "rate_limited": self.rate_limited,
            }
