"""The shared HTTP layer: failure classes, retries, pacing and counters."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from trigon_sync.errors import ServiceUnavailable, WriteUnconfirmed
from trigon_sync.http.pacer import RateLimitPacer
from trigon_sync.http.session import (
    DEFAULT_TIMEOUT,
    ENV_RETRY_DELAY,
    HttpSession,
    RetryMode,
    RetryPolicy,
    make_client,
    verified_tls,
)

BASE = "http://trigon.test/v1"


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def scripted(*steps: Callable[[httpx.Request], httpx.Response] | httpx.Response | Exception):
    """A handler that answers request i with steps[i]; records every request."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        step = steps[min(len(seen), len(steps) - 1)]
        seen.append(request)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    return handler, seen


def ok(body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json={"data": body if body is not None else {}}, headers=headers)


def error(status: int, code: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"code": code, "message": code.lower(), "details": None}},
        headers=headers,
    )


def session_for(handler, time: FakeTime, **policy: float) -> HttpSession:
    client = make_client(BASE, transport=httpx.MockTransport(handler))
    fixed = RetryPolicy(jitter=lambda: 1.0, **policy)  # type: ignore[arg-type]  # the policy dict's values are the typed fields
    pacer = RateLimitPacer(sleep=time.sleep, clock=time.clock)
    return HttpSession(client, service="Trigon", policy=fixed, pacer=pacer, sleep=time.sleep)


def test_default_timeouts_are_5s_connect_and_30s_read() -> None:
    """The factory's timeouts match the operations guide: connect 5 s, read 30 s."""
    client = make_client(BASE)
    assert client.timeout == DEFAULT_TIMEOUT
    assert (client.timeout.connect, client.timeout.read) == (5.0, 30.0)
    assert make_client(BASE, timeout=2.0).timeout.read == 2.0


@pytest.mark.parametrize(
    ("value", "first"),
    [("0.05", 0.05), ("2", 2.0), ("0.01", 0.5), ("31", 0.5), ("nan", 0.5), ("soon", 0.5)],
)
def test_retry_delay_from_the_environment_within_bounds(
    monkeypatch: pytest.MonkeyPatch, value: str, first: float
) -> None:
    """$TRIGON_SYNC_RETRY_DELAY sets the first wait within 0.05-30 s, else 0.5 s stays;
    the waits still double and the attempts stay five."""
    monkeypatch.setenv(ENV_RETRY_DELAY, value)
    time = FakeTime()
    failures = [error(503, "UNAVAILABLE")] * 5
    handler, seen = scripted(*failures)
    with pytest.raises(ServiceUnavailable):
        session_for(handler, time).send("GET", "/me")
    assert len(seen) == 5
    assert time.sleeps == [first, first * 2, first * 4, min(30.0, first * 8)]


def test_clients_share_one_certificate_checking_tls_context() -> None:
    """Every real client verifies certificates with one context built once per process
    (building it reads the whole CA bundle: ~15 ms of CPU per client otherwise)."""
    context = verified_tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs() or context.cert_store_stats()["x509_ca"]
    first, second = make_client(BASE), make_client("https://uku.test/api/v3")
    try:
        pools = [client._transport._pool for client in (first, second)]  # type: ignore[attr-defined]  # httpx keeps the context on its connection pool
        assert all(pool._ssl_context is context for pool in pools)
    finally:
        first.close()
        second.close()


def test_get_is_retried_after_5xx_with_exponential_backoff() -> None:
    """Two 5xx answers to a GET are retried after 0.5 s and 1 s, then the data arrives."""
    time = FakeTime()
    handler, seen = scripted(error(503, "UNAVAILABLE"), error(502, "BAD_GATEWAY"), ok({"x": 1}))
    session = session_for(handler, time)
    response = session.send("GET", "/me")
    assert response.body == {"data": {"x": 1}}
    assert len(seen) == 3
    assert time.sleeps == [0.5, 1.0]
    assert session.stats.as_dict() == {
        "requests": {"GET": 3},
        "total": 3,
        "retries": 2,
        "rate_limited": 0,
    }


def test_429_waits_for_retry_after_then_retries() -> None:
    """A 429 waits exactly the Retry-After seconds and then repeats the request."""
    time = FakeTime()
    handler, _seen = scripted(error(429, "RATE_LIMITED", **{"Retry-After": "7"}), ok())
    session = session_for(handler, time)
    assert session.send("GET", "/firms").status == 200
    assert time.sleeps == [7.0]
    assert session.stats.rate_limited == 1


def test_429_with_an_unreasonable_retry_after_gives_up_at_once() -> None:
    """A Retry-After beyond the bound is not waited for: the run stops with SERVICE."""
    time = FakeTime()
    handler, seen = scripted(error(429, "RATE_LIMITED", **{"Retry-After": "3600"}))
    with pytest.raises(ServiceUnavailable, match="kept failing: rate limited"):
        session_for(handler, time).send("GET", "/firms")
    assert time.sleeps == []
    assert len(seen) == 1


def test_other_4xx_is_returned_without_retry() -> None:
    """A 404 is final: returned once for the API client to interpret."""
    time = FakeTime()
    handler, seen = scripted(error(404, "FIRM_NOT_FOUND"))
    response = session_for(handler, time).send("GET", "/firms/x")
    assert (response.status, response.error_code, len(seen)) == (404, "FIRM_NOT_FOUND", 1)


def test_post_without_idempotency_key_is_not_repeated_after_5xx() -> None:
    """A plain POST that may have taken effect is never sent twice."""
    time = FakeTime()
    handler, seen = scripted(error(500, "INTERNAL_ERROR"), ok())
    with pytest.raises(ServiceUnavailable, match="not repeated"):
        session_for(handler, time).send("POST", "/auth/refresh", json_body={"a": 1})
    assert len(seen) == 1


@pytest.mark.parametrize(
    "failure",
    [error(502, "BAD_GATEWAY"), httpx.RemoteProtocolError("dropped"), httpx.ReadTimeout("slow")],
    ids=["502", "drop", "timeout"],
)
def test_a_post_that_may_have_arrived_is_never_repeated_even_with_a_key(failure: Any) -> None:
    """The real Uku ignores Idempotency-Keys on most paths: a keyed POST that reached the
    server is sent once and ends in WriteUnconfirmed, for the caller to read Uku."""
    time = FakeTime()
    handler, seen = scripted(failure, httpx.Response(201, json={"data": {"id": 1}}))
    with pytest.raises(WriteUnconfirmed, match="not repeated"):
        session_for(handler, time).send(
            "POST", "/tasks", json_body={"t": 1}, headers={"Idempotency-Key": "k-1"}
        )
    assert len(seen) == 1


def test_a_post_refused_by_the_rate_limit_is_repeated() -> None:
    """A 429 means the POST was not handled: it is sent again after Retry-After."""
    time = FakeTime()
    handler, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"code": "X"}}),
        httpx.Response(201, json={"data": {"id": 1}}),
    )
    assert session_for(handler, time).send("POST", "/tasks", json_body={}).status == 201
    assert len(seen) == 2


def test_patch_is_retried_after_a_timeout() -> None:
    """PATCH is idempotent by nature, so a read timeout is retried."""
    time = FakeTime()
    handler, seen = scripted(httpx.ReadTimeout("slow"), ok())
    assert session_for(handler, time).send("PATCH", "/tasks/1", json_body={}).status == 200
    assert len(seen) == 2


def test_connect_only_post_is_repeated_when_it_never_left() -> None:
    """A refresh POST is repeated after a refused connection, which surely did not reach."""
    time = FakeTime()
    handler, seen = scripted(httpx.ConnectError("refused"), ok())
    response = session_for(handler, time).send(
        "POST", "/auth/refresh", json_body={}, retry=RetryMode.CONNECT_ONLY
    )
    assert response.status == 200
    assert len(seen) == 2


def test_connect_only_post_is_not_repeated_after_a_read_timeout() -> None:
    """A refresh POST that timed out may have rotated the token: it is not repeated."""
    time = FakeTime()
    handler, seen = scripted(httpx.ReadTimeout("slow"), ok())
    with pytest.raises(ServiceUnavailable):
        session_for(handler, time).send(
            "POST", "/auth/refresh", json_body={}, retry=RetryMode.CONNECT_ONLY
        )
    assert len(seen) == 1


def test_malformed_json_in_a_2xx_answer_is_retried_for_get() -> None:
    """A 200 whose body is not JSON counts as a failure and the GET is repeated."""
    time = FakeTime()
    handler, seen = scripted(httpx.Response(200, content=b"{not json"), ok({"n": 2}))
    assert session_for(handler, time).send("GET", "/me").body == {"data": {"n": 2}}
    assert len(seen) == 2


def test_retries_are_bounded_and_name_the_service() -> None:
    """After max_attempts failures the error says which service failed and how."""
    time = FakeTime()
    handler, seen = scripted(error(503, "UNAVAILABLE"))
    with pytest.raises(ServiceUnavailable, match=r"Trigon at http://trigon.test/v1 kept failing"):
        session_for(handler, time, max_attempts=3).send("GET", "/me")
    assert len(seen) == 3


def test_unreachable_server_over_a_real_socket() -> None:
    """A closed port on 127.0.0.1 becomes 'Trigon is unreachable at <url>'."""
    # Bound but never listening: connections are refused and no other test can take the port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        time = FakeTime()
        url = f"http://127.0.0.1:{port}/v1"
        session = HttpSession(
            make_client(url),
            service="Trigon",
            policy=RetryPolicy(max_attempts=2, jitter=lambda: 1.0),
            sleep=time.sleep,
            hint="check trigon.base_url",
        )
        with pytest.raises(ServiceUnavailable, match=f"Trigon is unreachable at {url}") as caught:
            session.send("GET", "/me")
    assert caught.value.hint == "check trigon.base_url"


def test_pacer_spends_the_last_unit_then_waits_for_the_reset() -> None:
    """'1 left, reset in 12 s': the next request goes at once, the one after waits 12 s."""
    time = FakeTime()
    spent = {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "12"}
    headers = {**spent, "X-RateLimit-Remaining": "1"}
    handler, _seen = scripted(ok(**headers), ok(**spent), ok())
    session = session_for(handler, time)
    session.send("GET", "/a")
    session.send("GET", "/b")
    assert time.sleeps == []
    session.send("GET", "/c")
    assert time.sleeps == [12.0]


def test_pacer_keeps_read_and_write_buckets_apart() -> None:
    """An empty Uku write bucket does not slow down reads."""
    time = FakeTime()
    pacer = RateLimitPacer(
        tier_of=lambda m: "read" if m == "GET" else "write", sleep=time.sleep, clock=time.clock
    )
    pacer.observe(
        "POST",
        httpx.Headers(
            {
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "40",
                "X-RateLimit-Tier": "write",
            }
        ),
    )
    pacer.acquire("GET")
    assert time.sleeps == []
    pacer.acquire("PATCH")
    assert time.sleeps == [40.0]


def test_request_counters_are_per_method() -> None:
    """The counters report requests per HTTP method for benchmarks."""
    time = FakeTime()
    handler, _ = scripted(ok())
    session = session_for(handler, time)
    session.send("GET", "/a")
    session.send("GET", "/b")
    session.send("PATCH", "/c", json_body={})
    assert session.stats.by_method == {"GET": 2, "PATCH": 1}
    assert session.stats.total == 3
