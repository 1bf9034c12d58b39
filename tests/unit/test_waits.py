"""Every deliberate wait is announced before it starts, and a stopping command cuts the
waits of its reads short (issue 28, item 1). Time is injected: nothing here sleeps."""

from __future__ import annotations

import socket
import threading
import time as real_time

import httpx
import pytest

from tests.unit.test_http import BASE, FakeTime, error, ok, scripted, session_for
from trigon_sync.cli.connect_inputs import INTERACTIVE_POLICY
from trigon_sync.errors import ServiceUnavailable
from trigon_sync.http import waits
from trigon_sync.http.session import HttpSession, RetryPolicy, make_client

SPENT = {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "41"}


def test_a_spent_rate_limit_is_announced_with_the_service_and_how_long() -> None:
    """The pacer says "waiting 41 s for Trigon: rate limit" before it sleeps, once."""
    time = FakeTime()
    handler, _seen = scripted(ok(**SPENT), ok(), ok())
    session = session_for(handler, time)
    heard: list[tuple[waits.Wait, list[float]]] = []
    with waits.listening(lambda wait: heard.append((wait, list(time.sleeps)))):
        session.send("GET", "/a")
        session.send("GET", "/b")
    [(wait, slept_before)] = heard
    assert slept_before == []  # announced before the wait, not after it
    assert wait.describe().startswith("waiting 41 s for Trigon: rate limit")
    assert time.sleeps == [41.0]


def test_a_retry_is_announced_with_its_attempt_number_and_reason() -> None:
    """A 503 then a backoff: "retry 2 of 5 after HTTP 503 …" names the wait."""
    time = FakeTime()
    handler, _seen = scripted(error(503, "UNAVAILABLE"), ok())
    heard: list[waits.Wait] = []
    with waits.listening(heard.append):
        session_for(handler, time, max_attempts=5, base_delay=0.5).send("GET", "/me")
    [wait] = heard
    assert wait.service == "Trigon" and wait.seconds == 0.5
    assert wait.why == "retry 2 of 5 after HTTP 503 UNAVAILABLE"


def test_only_the_innermost_listener_hears_a_wait() -> None:
    """The monthly run's bar takes over from the plain line every command prints."""
    outer: list[waits.Wait] = []
    inner: list[waits.Wait] = []
    with waits.listening(outer.append), waits.listening(inner.append):
        waits.announce(waits.Wait("Uku", 2.0, "x"))
    assert (len(outer), len(inner)) == (0, 1)


def test_a_stop_cuts_a_reads_rate_limit_wait_short() -> None:
    """With the stop set, a read waiting out a 41 s window raises Stopped at once, unsent."""
    handler, seen = scripted(ok(**SPENT), ok())
    stop = threading.Event()
    session = HttpSession(
        make_client(BASE, transport=httpx.MockTransport(handler)), service="Trigon", stop=stop
    )
    session.send("GET", "/a")
    threading.Timer(0.05, stop.set).start()
    started = real_time.monotonic()
    with pytest.raises(waits.Stopped):
        session.send("GET", "/b")
    assert real_time.monotonic() - started < 2
    assert len(seen) == 1  # the second read was never sent


def test_a_stop_never_cuts_a_writes_wait() -> None:
    """A write waits its time out (it is sent, or reported), stop or no stop."""
    time = FakeTime()
    stop = threading.Event()
    stop.set()
    assert waits.pause(3.0, method="POST", service="Uku", stop=stop, sleep=time.sleep) is None
    assert time.sleeps == [3.0]
    with pytest.raises(waits.Stopped):
        waits.pause(3.0, method="GET", service="Uku", stop=stop, sleep=time.sleep)


def test_an_unreachable_host_fails_at_the_first_attempt_for_a_person() -> None:
    """The interactive policy: one connect attempt to a closed port, the URL named."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
        time = FakeTime()
        session = HttpSession(
            make_client(url),
            service="Trigon",
            policy=RetryPolicy(max_attempts=3, unreachable_attempts=1),
            sleep=time.sleep,
        )
        with pytest.raises(ServiceUnavailable, match=f"Trigon is unreachable at {url}"):
            session.send("GET", "/me")
    assert time.sleeps == []  # no backoff: nothing was retried


def test_a_silent_server_costs_a_person_one_read_timeout() -> None:
    """A server that takes the connection and never answers: at a terminal one try, not
    three read timeouts in a row before the same line."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        time = FakeTime()
        session = HttpSession(
            make_client(url, timeout=0.2),
            service="Trigon",
            policy=INTERACTIVE_POLICY,  # what connect and connect-uku use
            sleep=time.sleep,
        )
        with pytest.raises(ServiceUnavailable, match="no answer in time"):
            session.send("GET", "/me")
    assert time.sleeps == []  # given up after the one silent try
