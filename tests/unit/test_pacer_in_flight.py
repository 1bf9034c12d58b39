"""The pacer against fixed-window servers: the whole budget per window, never a 429.

The servers here are the sandbox's own :class:`RateLimiter` (seconds until the reset) and
a fake of the real Uku (the reset as an epoch second, windows on whole seconds, ``Date``
rounded down, a server clock that is not the client's), both on an injected clock.
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
import time as real_time
from collections import Counter

import httpx

from trigon_sync.http.pacer import RateLimitPacer
from trigon_sync.sandbox.faults import ManualClock, RateLimiter


class FakeTime:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limit_headers(remaining: int, reset: float = 10, limit: int = 10) -> httpx.Headers:
    return httpx.Headers(
        {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset),
        }
    )


class EpochUku:
    """Uku's semantics: fixed windows starting on whole seconds of the server's clock,
    ``X-RateLimit-Reset`` the epoch second the window ends, ``Date`` rounded down."""

    def __init__(self, local: FakeTime, *, lead: float, limit: int, window: int) -> None:
        self.local, self.lead, self.limit, self.window = local, lead, limit, window
        self.used: Counter[int] = Counter()
        self.refused = 0

    def hit(self) -> httpx.Headers:
        server_now = self.local.now + self.lead
        start = math.floor(server_now / self.window) * self.window
        allowed = self.used[start] < self.limit
        if allowed:
            self.used[start] += 1
        else:
            self.refused += 1
        return httpx.Headers(
            {
                "Date": email.utils.formatdate(math.floor(server_now), usegmt=True),
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.limit - self.used[start]),
                "X-RateLimit-Reset": str(start + self.window),
                "X-RateLimit-Tier": "write",
            }
        )


def test_an_epoch_reset_is_placed_by_the_servers_clock_and_every_window_is_full() -> None:
    """300 writes at 30 per 60 s against a server 3.7 s ahead: 30 per window, no 429,
    and each window's first write reaches the server within 50 ms of its opening."""
    local = FakeTime(start=1_700_000_000.25)
    server = EpochUku(local, lead=3.7, limit=30, window=60)
    pacer = RateLimitPacer(
        tier_of=lambda _m: "write", sleep=local.sleep, clock=local.clock, epoch=lambda: 0.0
    )
    first_window_ends = math.floor((local.now + 3.7) / 60) * 60 + 60 - 3.7
    sent_at = []
    for _ in range(300):
        ticket = pacer.acquire("POST")
        sent_at.append(local.now)
        local.now += 0.01  # the request on its way
        headers = server.hit()
        local.now += 0.01  # the answer on its way back
        pacer.observe("POST", headers, ticket)
    assert server.refused == 0
    assert sorted(server.used.values()) == [30] * 10
    for window in range(1, 10):  # each window's first write goes as the window opens
        opens = first_window_ends + (window - 1) * 60
        assert opens <= sent_at[30 * window] - 0.01 <= opens + 0.05


def test_the_sandbox_limiter_is_spent_to_the_last_unit_per_window() -> None:
    """Against the sandbox's own fixed window (reset in seconds): 25 per window, no 429."""
    local = FakeTime()
    server_clock = ManualClock(start=0.0)
    limiter = RateLimiter(server_clock)
    pacer = RateLimitPacer(sleep=local.sleep, clock=local.clock)
    sent: Counter[int] = Counter()
    for _ in range(100):
        ticket = pacer.acquire("GET")
        server_clock.now = local.now
        state = limiter.hit("k", 25, 10.0)
        assert state.allowed
        sent[int(local.now // 10)] += 1
        local.now += 0.02
        pacer.observe("GET", httpx.Headers(state.headers()), ticket)
    assert list(sent.values()) == [25, 25, 25, 25]


def test_an_answer_does_not_forget_requests_still_in_flight() -> None:
    """With 7 other requests in flight, 'remaining 8' leaves room for exactly one more."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    pacer.observe("GET", limit_headers(20), pacer.acquire("GET"))
    tickets = [pacer.acquire("GET") for _ in range(8)]
    pacer.observe("GET", limit_headers(8), tickets[0])  # the server had not seen the 7 others
    assert pacer.snapshot()["default"][0] == 1
    for ticket, remaining in zip(tickets[1:], range(7, 0, -1), strict=True):
        pacer.observe("GET", limit_headers(remaining), ticket)
    assert pacer.snapshot()["default"][0] == 1  # the answers are in: the last unit is free
    pacer.acquire("GET")
    assert time.sleeps == []


def test_a_late_answer_from_the_same_window_never_raises_the_estimate() -> None:
    """Answers arrive out of order: an older, higher 'remaining' does not undo a newer one."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    pacer.observe("GET", limit_headers(9), pacer.acquire("GET"))
    first, second = pacer.acquire("GET"), pacer.acquire("GET")
    pacer.observe("GET", limit_headers(3), second)
    pacer.observe("GET", limit_headers(4), first)
    assert pacer.snapshot()["default"][0] == 3


def test_a_new_window_starts_from_the_limit() -> None:
    """Once the reset has passed, the bucket holds the limit again, before any answer."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    pacer.observe("GET", limit_headers(0, reset=5, limit=40), pacer.acquire("GET"))
    ticket = pacer.acquire("GET")  # waits for the reset
    assert time.sleeps == [5.0]
    assert pacer.snapshot()["default"][0] == 39
    pacer.observe("GET", limit_headers(38, reset=60, limit=40), ticket)
    assert pacer.snapshot()["default"][0] == 38


def test_a_request_without_an_answer_counts_as_spent_until_a_later_answer() -> None:
    """A dropped request may have reached the server: it is counted until an answer to a
    later request (which includes it) comes back."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    pacer.observe("GET", limit_headers(9), pacer.acquire("GET"))
    pacer.release(pacer.acquire("GET"))
    assert pacer.snapshot()["default"][0] == 8
    pacer.observe("GET", limit_headers(7), pacer.acquire("GET"))
    assert pacer.snapshot()["default"][0] == 7


def test_a_burst_limit_with_a_short_reset_leaves_the_window_alone() -> None:
    """A 429 saying 'none left, reset in 1 s' mid-window spends one unit, no window."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    pacer.observe("GET", limit_headers(500, reset=60, limit=600), pacer.acquire("GET"))
    pacer.observe("GET", limit_headers(0, reset=1, limit=600), pacer.acquire("GET"))
    assert pacer.snapshot()["default"][0] == 499
    pacer.acquire("GET")
    assert time.sleeps == []


def test_before_any_answer_one_request_probes_the_limits() -> None:
    """Nothing known yet: one request goes, the next waits for its answer; a service
    without rate-limit headers is then not paced at all."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    ticket = pacer.acquire("GET")
    assert pacer.snapshot()["default"][0] == 0
    pacer.observe("GET", httpx.Headers({}), ticket)
    assert pacer.snapshot()["default"][0] is None
    for _ in range(50):
        pacer.acquire("GET")
    assert time.sleeps == []


def test_eight_threads_spend_each_window_exactly_and_never_see_a_429() -> None:
    """Real threads, real clock, fractional resets: every full window takes exactly the
    limit, the waiting threads go the moment answers or the reset free a unit."""
    limit, window, wanted = 12, 0.3, 12 * 4
    lock = threading.Lock()
    start = real_time.monotonic()
    windows: Counter[int] = Counter()
    refused = []
    sent = [0]
    pacer = RateLimitPacer()

    def serve() -> httpx.Headers:
        with lock:
            now = real_time.monotonic()
            index = int((now - start) // window)
            if windows[index] >= limit:
                refused.append(index)
            else:
                windows[index] += 1
            left = max(0.0, start + (index + 1) * window - now)
            return limit_headers(limit - windows[index], reset=round(left + 0.0005, 3), limit=limit)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while True:
            with lock:
                if sent[0] >= wanted:
                    return
                sent[0] += 1
            ticket = pacer.acquire("GET")
            real_time.sleep(rng.uniform(0.0, 0.004))
            headers = serve()
            real_time.sleep(rng.uniform(0.0, 0.004))
            pacer.observe("GET", headers, ticket)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert refused == []
    assert sum(windows.values()) == wanted
    assert all(count in (0, limit) for count in windows.values()), windows


def test_a_bucket_named_by_the_answer_paces_the_requests_that_use_it() -> None:
    """tier_of says 'default', the answers say 'standard': the requests go by 'standard'
    (not one probe at a time on a bucket no answer ever names)."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    named = httpx.Headers({**limit_headers(5, limit=6), "X-RateLimit-Tier": "standard"})
    pacer.observe("GET", named, pacer.acquire("GET"))
    tickets = [pacer.acquire("GET") for _ in range(5)]
    assert pacer.snapshot()["standard"][0] == 0
    assert time.sleeps == []
    assert len(set(tickets)) == 5
