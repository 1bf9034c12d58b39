"""The one way trigon-sync talks HTTP: client factory, failure classes, retries, pacing.

Both API clients send every request through :class:`HttpSession.send`, so the rules
below hold everywhere and are tested once:

* **Classify, then decide.** A 429 waits for ``Retry-After`` (bounded) and retries. A
  5xx, a timeout, a dropped connection or a 2xx with malformed JSON is *retriable*, but
  only when repeating the request is safe: GET/PATCH always, POST only with an
  ``Idempotency-Key`` (the same key on every attempt). Any other 4xx is returned at once
  for the API client to turn into a typed error. A request that surely never reached the
  server (connection refused, connect timeout) is always safe to repeat.
* **Pace instead of hitting 429.** :class:`RateLimitPacer` reads the ``X-RateLimit-*``
  headers and, when a bucket is nearly empty, makes the next caller wait until its reset.
  The monthly run fetches counts from a thread pool, so the pacer and the counters are
  thread-safe.
* **Time is injected.** ``sleep`` and ``clock`` are parameters, so tests neither wait
  nor need freezegun.
"""

from __future__ import annotations

import enum
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from trigon_sync.errors import ApiError, ServiceUnavailable

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
ENV_TIMEOUT = "TRIGON_SYNC_HTTP_TIMEOUT"
"""Seconds to wait for an answer instead of 30 (slow links; the chaos tests use 1)."""


def default_timeout() -> httpx.Timeout:
    """``DEFAULT_TIMEOUT``, or the read/write/pool timeout ``$TRIGON_SYNC_HTTP_TIMEOUT`` sets."""
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    try:
        seconds = float(raw) if raw else 0.0
    except ValueError:
        seconds = 0.0  # an unreadable value keeps the default rather than failing cron
    return httpx.Timeout(seconds, connect=5.0) if 0 < seconds <= 600 else DEFAULT_TIMEOUT


Sleep = Callable[[float], None]
Clock = Callable[[], float]


def make_client(
    base_url: str,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout | float | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """An httpx client with our timeouts; ``transport`` lets tests inject a fake server."""
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        transport=transport,
        timeout=default_timeout() if timeout is None else timeout,
        headers=dict(headers or {}),
        follow_redirects=False,
        trust_env=transport is None,
    )


class RetryMode(enum.Enum):
    """How far a request may be repeated after a failure."""

    AUTO = "auto"
    """Derive from the method: GET/PATCH/PUT/DELETE and keyed POSTs are safe, other POSTs
    only when they surely did not reach the server."""
    CONNECT_ONLY = "connect_only"
    """Repeat only when the request surely did not reach the server (and on 429)."""
    REPEATABLE = "repeatable"
    """The caller knows a repeat is harmless (a login: at worst a second token pair)."""


IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PATCH", "PUT", "DELETE"})

# Transport failures where the request cannot have reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and waits; ``jitter`` returns a factor in [0.5, 1] by default."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    jitter: Callable[[], float] = field(default=lambda: random.uniform(0.5, 1.0))  # noqa: S311 - backoff jitter, not crypto

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter before attempt ``attempt + 1``."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * self.jitter()


# Answers of one window report resets that differ by the server's whole-second rounding
# plus latency; a reset further off is another window (a later one, or a short burst
# limit that a 429 announces) and replaces the estimate.
_SAME_WINDOW_SLACK = 1.5


@dataclass
class _Bucket:
    remaining: int | None = None
    reset_at: float = 0.0
    limit: int | None = None


class RateLimitPacer:
    """Waits before a request when the server said its bucket is (nearly) empty.

    ``tier_of(method)`` names the bucket a request will use before it is sent (Uku has
    separate read and write buckets, Trigon one per user); the answer's
    ``X-RateLimit-Tier`` header, when present, says which bucket it actually used.
    Each send reserves one unit of the last known ``remaining`` so that concurrent
    threads do not all spend the last one.

    An answer's ``remaining`` was counted when the server handled *that* request, so it
    does not yet include the requests other threads sent after it and are still waiting
    for: each send takes a ticket, and an answer's figure is lowered by the later tickets
    still in flight. Within one window the lowest estimate wins (answers arrive out of
    order); a clearly different reset means another window and replaces it.
    """

    def __init__(
        self,
        *,
        tier_of: Callable[[str], str] = lambda _method: "default",
        reserve: int = 1,
        max_wait: float = 120.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self._tier_of = tier_of
        self._reserve = reserve
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._in_flight: dict[int, str] = {}  # ticket -> tier it was acquired for
        self._next_ticket = 0
        self.waited_seconds = 0.0

    def acquire(self, method: str) -> int:
        """Block until the bucket for ``method`` may take one more request; return its ticket.

        Pass the ticket to :meth:`observe` with the answer, or to :meth:`release` when no
        answer came, so the request stops counting as in flight.
        """
        tier = self._tier_of(method)
        while True:
            with self._lock:
                bucket = self._buckets.setdefault(tier, _Bucket())
                now = self._clock()
                if bucket.remaining is not None and now >= bucket.reset_at:
                    bucket.remaining = None  # a new window: nothing known until an answer
                if bucket.remaining is None or bucket.remaining > self._reserve:
                    if bucket.remaining is not None:
                        bucket.remaining -= 1
                    self._next_ticket += 1
                    self._in_flight[self._next_ticket] = tier
                    return self._next_ticket
                deadline = bucket.reset_at
                wait = max(0.0, min(deadline - now, self._max_wait))
                self.waited_seconds += wait
            self._sleep(wait)
            with self._lock:
                if bucket.reset_at == deadline:
                    # No newer answer since: the window has turned over, the bucket is fresh.
                    bucket.remaining = None

    def release(self, ticket: int | None) -> None:
        """A request that got no answer no longer counts as in flight."""
        if ticket is not None:
            with self._lock:
                self._in_flight.pop(ticket, None)

    def observe(self, method: str, headers: httpx.Headers, ticket: int | None = None) -> None:
        """Record what the answer to the request holding ``ticket`` said about its bucket."""
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        reset = _float_header(headers, "X-RateLimit-Reset")
        with self._lock:
            acquired_tier = self._in_flight.pop(ticket, None) if ticket is not None else None
            if remaining is None or reset is None:
                return
            tier = headers.get("X-RateLimit-Tier") or acquired_tier or self._tier_of(method)
            later = sum(
                1
                for other, other_tier in self._in_flight.items()
                if other_tier == tier and (ticket is None or other > ticket)
            )
            estimate = max(0, remaining - later)
            reset_at = self._clock() + reset
            bucket = self._buckets.setdefault(tier, _Bucket())
            known = bucket.remaining
            if known is not None and abs(reset_at - bucket.reset_at) <= _SAME_WINDOW_SLACK:
                bucket.remaining = min(known, estimate)
                bucket.reset_at = max(bucket.reset_at, reset_at)
            else:
                bucket.remaining = estimate
                bucket.reset_at = reset_at
            bucket.limit = _int_header(headers, "X-RateLimit-Limit")

    def snapshot(self) -> dict[str, tuple[int | None, float]]:
        """Bucket -> (remaining, seconds to reset), for diagnostics and tests."""
        with self._lock:
            now = self._clock()
            return {k: (b.remaining, max(0.0, b.reset_at - now)) for k, b in self._buckets.items()}


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float_header(headers: httpx.Headers, name: str) -> float | None:
    value = headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class RequestStats:
    """Thread-safe counters of what one client sent, for benchmarks and run summaries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_method: Counter[str] = Counter()
        self.retries = 0
        self.rate_limited = 0

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


_MISSING = object()


@dataclass(frozen=True)
class ApiResponse:
    """A final answer: status, headers and the parsed JSON body (None when empty)."""

    status: int
    headers: httpx.Headers
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> Mapping[str, Any]:
        """The ``{"code", "message", "details"}`` object of an error answer, or {}."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]
        return {}

    @property
    def error_code(self) -> str | None:
        code = self.error.get("code")
        return code if isinstance(code, str) else None

    @property
    def error_message(self) -> str:
        message = self.error.get("message")
        return message if isinstance(message, str) else f"HTTP {self.status}"


class _Retriable(Exception):
    """Internal: this attempt failed in a way a repeat may cure."""

    def __init__(self, reason: str, *, sent: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent
        self.retry_after = retry_after


class HttpSession:
    """One API's connection: base URL, retry policy, pacer and counters.

    ``service`` ("Trigon", "Uku") and ``hint`` go into the messages users see when the
    service cannot be reached.
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        service: str,
        hint: str | None = None,
        policy: RetryPolicy | None = None,
        pacer: RateLimitPacer | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._client = client
        self.service = service
        self.base_url = str(client.base_url).rstrip("/")
        self._hint = hint
        self.policy = policy or RetryPolicy()
        self.pacer = pacer or RateLimitPacer(sleep=sleep)
        self._sleep = sleep
        self.stats = RequestStats()

    def close(self) -> None:
        self._client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = _MISSING,
        headers: Mapping[str, str] | None = None,
        retry: RetryMode = RetryMode.AUTO,
    ) -> ApiResponse:
        """Send with retries; return the final answer or raise ServiceUnavailable.

        A non-retriable error answer (most 4xx) is returned, not raised: only the API
        client knows what its error codes mean.
        """
        method = method.upper()
        safe = retry is RetryMode.REPEATABLE or (
            retry is RetryMode.AUTO
            and (
                method in IDEMPOTENT_METHODS
                or (method == "POST" and "Idempotency-Key" in (headers or {}))
            )
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, path, params, json_body, headers)
            except _Retriable as failure:
                may_repeat = safe or not failure.sent or failure.retry_after is not None
                if not may_repeat:
                    raise self._gave_up(failure, attempt, repeatable=False) from None
                if attempt >= self.policy.max_attempts:
                    raise self._gave_up(failure, attempt, repeatable=True) from None
                if failure.retry_after is not None:
                    if failure.retry_after > self.policy.max_retry_after:
                        raise self._gave_up(failure, attempt, repeatable=True) from None
                    delay = failure.retry_after
                else:
                    delay = self.policy.backoff(attempt)
                self.stats.count_retry(rate_limited=failure.retry_after is not None)
                self._sleep(delay)

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> ApiResponse:
        ticket = self.pacer.acquire(method)
        self.stats.count(method)
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json_body is not _MISSING:
            kwargs["json"] = json_body
        try:
            response = self._client.request(method, path, **kwargs)
        except BaseException as exc:
            self.pacer.release(ticket)  # no answer: no longer in flight
            if isinstance(exc, _NOT_SENT):
                raise _Retriable(f"cannot connect ({type(exc).__name__})", sent=False) from exc
            if isinstance(exc, httpx.TimeoutException):
                raise _Retriable("no answer in time", sent=True) from exc
            if isinstance(exc, httpx.TransportError):
                raise _Retriable(f"connection failed ({type(exc).__name__})", sent=True) from exc
            raise
        self.pacer.observe(method, response.headers, ticket)
        status = response.status_code
        body = _parse_json(response)
        if status == 429:
            retry_after = _float_header(response.headers, "Retry-After")
            raise _Retriable(
                "rate limited (HTTP 429)",
                sent=True,
                retry_after=retry_after if retry_after is not None else self.policy.backoff(1),
            )
        if status >= 500:
            code = body["error"].get("code") if _is_error_body(body) else None
            raise _Retriable(f"HTTP {status}{f' {code}' if code else ''}", sent=True)
        if 200 <= status < 300 and body is _MISSING:
            raise _Retriable(f"malformed JSON in an HTTP {status} answer", sent=True)
        return ApiResponse(status, response.headers, None if body is _MISSING else body)

    def _gave_up(self, failure: _Retriable, attempts: int, *, repeatable: bool) -> Exception:
        where = f"{self.service} at {self.base_url}"
        if not failure.sent:
            message = f"{self.service} is unreachable at {self.base_url}: {failure.reason}"
        elif repeatable:
            message = f"{where} kept failing: {failure.reason}, {attempts} attempt(s)"
        else:
            message = (
                f"{where} failed: {failure.reason}; the request was not repeated because "
                "it may already have taken effect"
            )
        return ServiceUnavailable(message, hint=self._hint)


def _is_error_body(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


def _parse_json(response: httpx.Response) -> Any:
    """The parsed body, None for an empty one, ``_MISSING`` when it is not valid JSON."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return _MISSING


def unexpected(service: str, response: ApiResponse, *, hint: str | None = None) -> ApiError:
    """An ApiError for an answer the client has no specific handling for."""
    return ApiError(
        f"{service} answered HTTP {response.status}"
        f"{f' {response.error_code}' if response.error_code else ''}: {response.error_message}",
        status=response.status,
        code=response.error_code,
        details=response.error.get("details"),
        hint=hint,
    )
