"""The shared pacer counts requests still in flight when an answer reports ``remaining``."""

from __future__ import annotations

import httpx

from trigon_sync.http import RateLimitPacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limit_headers(remaining: int, reset: int = 10) -> httpx.Headers:
    return httpx.Headers({"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)})


def test_an_answer_does_not_forget_later_requests_still_in_flight() -> None:
    """With 7 later requests in flight, 'remaining 8' leaves room for only one more send."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock, reserve=0)
    tickets = [pacer.acquire("GET") for _ in range(8)]
    pacer.observe("GET", limit_headers(8), tickets[0])  # the server had not seen the 7 others
    assert pacer.snapshot()["default"][0] == 1
    pacer.acquire("GET")
    assert time.sleeps == []
    pacer.acquire("GET")
    assert time.sleeps == [10.0]


def test_a_late_answer_from_the_same_window_never_raises_the_estimate() -> None:
    """Answers arrive out of order: an older, higher 'remaining' does not undo a newer one."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    first, second = pacer.acquire("GET"), pacer.acquire("GET")
    pacer.observe("GET", limit_headers(3), second)
    pacer.observe("GET", limit_headers(4), first)
    assert pacer.snapshot()["default"][0] == 3


def test_a_new_window_replaces_the_old_estimate() -> None:
    """Once the reset has passed, the next answer's figure is taken as it is."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    pacer.observe("GET", limit_headers(0, reset=5), pacer.acquire("GET"))
    ticket = pacer.acquire("GET")  # waits for the reset
    assert time.sleeps == [5.0]
    pacer.observe("GET", limit_headers(99), ticket)
    assert pacer.snapshot()["default"][0] == 99


def test_a_request_without_an_answer_stops_counting_as_in_flight() -> None:
    """A dropped request is released, so it does not lower later estimates."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    first, dropped = pacer.acquire("GET"), pacer.acquire("GET")
    pacer.release(dropped)
    pacer.observe("GET", limit_headers(5), first)
    assert pacer.snapshot()["default"][0] == 5


def test_a_burst_limit_with_a_short_reset_waits_only_for_that_reset() -> None:
    """A 429 saying 'none left, reset in 1 s' mid-window costs 1 s, not the window's rest."""
    time = FakeTime()
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    pacer.observe("GET", limit_headers(500, reset=60), pacer.acquire("GET"))
    pacer.observe("GET", limit_headers(0, reset=1), pacer.acquire("GET"))
    pacer.acquire("GET")
    assert time.sleeps == [1.0]
