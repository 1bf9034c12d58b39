"""Issue 12 guards in the HTTP layer: total deadlines, sane waits, answer limits, Date."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from tests.unit.test_http import BASE, FakeTime, error, ok, scripted
from trigon_sync.errors import AnswerRefused, ClockSkewError, ServiceUnavailable
from trigon_sync.http.answer_limits import AnswerLimits
from trigon_sync.http.pacer import EPOCH_AFTER, RateLimitPacer, reset_in, retry_after
from trigon_sync.http.session import HttpSession, RetryPolicy, make_client

NOW = dt.datetime(2026, 3, 2, 0, 30, tzinfo=dt.UTC)


def session(handler, time: FakeTime, *, limits: AnswerLimits | None = None, wall=None):
    client = make_client(BASE, transport=httpx.MockTransport(handler))
    return HttpSession(
        client,
        service="Uku",
        policy=RetryPolicy(jitter=lambda: 1.0, max_attempts=3),
        pacer=RateLimitPacer(sleep=time.sleep, clock=time.clock),
        sleep=time.sleep,
        limits=limits,
        clock=time.clock,
        wall=wall or (lambda: NOW),
    )


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


def test_a_body_trickling_in_ends_at_the_total_deadline() -> None:
    """A server sending one byte per (fake) second forever fails within the deadline."""
    time = FakeTime()

    def trickle() -> Iterator[bytes]:
        while True:
            time.now += 1.0  # each byte arrives a second after the last
            yield b" "

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=trickle())

    started = time.now
    with pytest.raises(ServiceUnavailable, match="no answer in time, 3 attempt"):
        session(handler, time, limits=AnswerLimits(deadline=10.0)).send("GET", "/clients")
    # three attempts of at most ~10 s each, plus the backoff between them
    assert time.now - started < 3 * 11 + 2


def test_each_read_timeout_is_capped_to_what_is_left_of_the_deadline() -> None:
    """The request's per-phase timeouts never exceed the total deadline."""
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return ok()

    session(handler, FakeTime(), limits=AnswerLimits(deadline=7.0)).send("GET", "/me")
    assert seen[0]["read"] == 7.0 and seen[0]["connect"] == 5.0


def test_a_gzip_bomb_is_refused_while_decoding_without_inflating_it() -> None:
    """64 MB of zeros in ~64 KB of gzip: refused at the 1 MB limit, peak memory ~ the limit."""
    bomb = gzip.compress(b"0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 256 * 1024
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)  # a streamed body, as from a socket: nothing decoded yet
        return httpx.Response(200, content=iter([bomb]), headers={"Content-Encoding": "gzip"})

    s = session(handler, FakeTime(), limits=AnswerLimits(max_body_bytes=1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(AnswerRefused, match="larger than 1048576 bytes once decoded"):
            s.send("GET", "/tasks")
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # inflating it whole would take 64 MB
    assert len(seen) == 1  # refused, not retried: the same answer would come again


def test_gzip_answers_within_the_limit_are_decoded() -> None:
    """An ordinary gzip answer reads as its JSON; we ask for gzip and deflate only."""
    body = {"data": [{"id": i} for i in range(1000)]}
    packed = gzip.compress(json.dumps(body).encode())
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        chunks = [packed[i : i + 100] for i in range(0, len(packed), 100)]
        return httpx.Response(200, content=iter(chunks), headers={"Content-Encoding": "gzip"})

    assert session(handler, FakeTime()).send("GET", "/x").body == body
    assert seen[0].headers["Accept-Encoding"] == "gzip, deflate"


def test_an_encoding_we_did_not_ask_for_is_refused() -> None:
    """A br/zstd answer cannot be size-checked while decoding: refused, not guessed at."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"xx"]), headers={"Content-Encoding": "br"})

    with pytest.raises(AnswerRefused, match="encoding"):
        session(handler, FakeTime()).send("GET", "/x")


def test_a_declared_oversized_body_is_refused_before_reading() -> None:
    """A Content-Length above the limit is refused without downloading it."""
    handler, _ = scripted(httpx.Response(200, content=b"x" * 2000))
    with pytest.raises(AnswerRefused, match="2000 bytes"):
        session(handler, FakeTime(), limits=AnswerLimits(max_body_bytes=1000)).send("GET", "/x")


@pytest.mark.parametrize("depth", [65, 100_000])
def test_json_nested_absurdly_deep_is_a_service_error(depth: int) -> None:
    """Deep nesting (even past Python's recursion limit) is AnswerRefused, not a crash."""
    body = b"[" * depth + b"]" * depth
    handler, _ = scripted(httpx.Response(200, content=body))
    with pytest.raises(AnswerRefused, match="nested"):
        session(handler, FakeTime()).send("GET", "/x")


def test_json_nested_within_the_limit_is_accepted() -> None:
    """Ordinary nesting passes the depth check."""
    body = {"data": [{"a": {"b": [1, 2, {"c": None}]}}]}
    handler, _ = scripted(httpx.Response(200, content=json.dumps(body).encode()))
    assert session(handler, FakeTime()).send("GET", "/x").body == body


def test_json_nan_is_malformed_not_a_number() -> None:
    """``{"count": NaN}`` is not JSON: it is retried as malformed, never parsed as a float."""
    handler, seen = scripted(httpx.Response(200, content=b'{"data": {"count": NaN}}'))
    with pytest.raises(ServiceUnavailable, match="malformed JSON"):
        session(handler, FakeTime()).send("GET", "/x")
    assert len(seen) == 3


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_retry_after_that_is_not_finite_is_refused_without_sleeping(value: str) -> None:
    """A 429 with Retry-After NaN/inf stops with ServiceUnavailable at once."""
    time = FakeTime()
    handler, seen = scripted(error(429, "RATE_LIMITED", **{"Retry-After": value}))
    with pytest.raises(ServiceUnavailable, match="unusable Retry-After"):
        session(handler, time).send("GET", "/x")
    assert time.sleeps == [] and len(seen) == 1


def test_retry_after_as_an_http_date_is_measured_against_the_servers_date() -> None:
    """Retry-After: <date> waits until that date by the answer's own Date header."""
    time = FakeTime()
    server_now = NOW + dt.timedelta(days=365)  # the local clock is irrelevant here
    limited = error(
        429,
        "RATE_LIMITED",
        **{
            "Retry-After": http_date(server_now + dt.timedelta(seconds=9)),
            "Date": http_date(server_now),
        },
    )
    handler, _ = scripted(limited, ok())
    session(handler, time).send("GET", "/x")
    assert time.sleeps == [9.0]


def test_negative_retry_after_is_clamped_to_zero() -> None:
    """A negative Retry-After retries without waiting, never sleeps a negative time."""
    time = FakeTime()
    handler, _ = scripted(error(429, "RATE_LIMITED", **{"Retry-After": "-5"}), ok())
    session(handler, time).send("GET", "/x")
    assert time.sleeps == [0.0]


def test_retry_after_parsing_rules() -> None:
    """Seconds, dates, garbage and non-finite values."""
    assert retry_after("12", 0) == 12.0
    assert retry_after(None, 0) is None
    assert retry_after("soon", 0) is None
    assert retry_after(http_date(NOW), NOW.timestamp() + 100) == 0.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),
        ("nan", None),
        ("inf", None),
        ("-3", None),
        ("bogus", None),
        (str(int(NOW.timestamp()) + 42), 42.0),  # epoch seconds, the real Uku
        (str(int(NOW.timestamp()) - 42), 0.0),  # an epoch already past
        ("99999999999", 120.0),  # year 5138: clamped to the pacer's bound
    ],
)
def test_rate_limit_reset_is_seconds_or_epoch_and_always_bounded(
    value: str, expected: float | None
) -> None:
    """X-RateLimit-Reset below 10^6 is seconds-until, above it a Unix timestamp."""
    assert EPOCH_AFTER == 1_000_000
    assert reset_in(value, NOW.timestamp(), 120.0) == expected


def test_a_nan_rate_limit_reset_does_not_spin_the_pacer() -> None:
    """After `X-RateLimit-Remaining: 0` with `Reset: nan` the next request goes out."""
    time = FakeTime()
    handler, seen = scripted(ok(**{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "nan"}), ok())
    s = session(handler, time)
    s.send("GET", "/a")
    s.send("GET", "/b")
    assert len(seen) == 2 and time.sleeps == []


def test_an_epoch_reset_waits_by_the_servers_clock() -> None:
    """An empty bucket with an epoch reset 20 s after the answer's Date waits 20 s."""
    time = FakeTime()
    server_now = NOW - dt.timedelta(days=365)  # local clock a year ahead changes nothing
    headers = {
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(server_now.timestamp()) + 20),
        "Date": http_date(server_now),
    }
    handler, _ = scripted(ok(**headers), ok())
    s = session(handler, time)
    s.send("GET", "/a")
    s.send("GET", "/b")
    assert time.sleeps == [20.0]


def test_the_date_header_is_recorded_with_the_local_clock() -> None:
    """Every answer's Date is kept with the local reading; the offset says who is off."""
    server_now = NOW - dt.timedelta(hours=2)
    handler, _ = scripted(ok(Date=http_date(server_now)))
    s = session(handler, FakeTime())
    s.send("GET", "/me")
    sample = s.stats.server_clock.sample
    assert sample is not None
    assert sample.offset == dt.timedelta(hours=-2)


def test_a_write_is_refused_once_an_answer_showed_the_clock_off() -> None:
    """A POST after a GET whose Date is a year away raises ClockSkewError, sending nothing."""
    year_ago = NOW - dt.timedelta(days=365)
    handler, seen = scripted(ok(Date=http_date(year_ago)), ok())
    s = session(handler, FakeTime())
    s.send("GET", "/clients")
    with pytest.raises(ClockSkewError, match="365 days ahead of Uku's"):
        s.send("POST", "/tasks", json_body={}, headers={"Idempotency-Key": "k"})
    assert [r.method for r in seen] == ["GET"]
