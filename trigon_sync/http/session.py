"""The one way trigon-sync talks HTTP: client factory, failure classes, retries, pacing.

Both API clients send every request through :class:`HttpSession.send`, so the rules
below hold everywhere and are tested once:

* **Classify, then decide.** A 429 waits for ``Retry-After`` (bounded) and retries. A
  5xx, a timeout, a dropped connection or a 2xx with malformed JSON is *retriable*, but
  only when repeating the request is safe: GET/PATCH/PUT/DELETE. A POST that may have
  reached the server is **never** repeated, whatever ``Idempotency-Key`` it carries (the
  real Uku ignores the key on most paths): it ends in :class:`WriteUnconfirmed` and the
  API client's caller reads the service to learn whether it took effect. Any other 4xx is
  returned at once for the API client to turn into a typed error. A request that surely
  never reached the server (connection refused, connect timeout) is always safe to repeat.
* **Pace instead of hitting 429, and use the whole budget.** ``RateLimitPacer`` (http/pacer.py)
  reads the ``X-RateLimit-*`` headers and lets exactly as many requests go per window as
  they allow, counting the ones still in flight; the next caller waits for an answer or
  for the reset. The monthly run fetches counts from a thread pool, so the pacer and the
  counters are thread-safe.
* **Every wait is bounded.** Each attempt has a *total* deadline covering connect,
  headers and the whole body (httpx's timeouts are per read, so a server trickling one
  byte a second would never time out): the body is streamed and the deadline checked
  per chunk, and every per-read timeout is capped to what is left of it.
  ``X-RateLimit-Reset`` and ``Retry-After`` values that are not finite are refused, and
  negative or absurd ones clamped, instead of being slept on.
* **Answers have limits** (http/answer_limits.py). A body above ``max_body_bytes`` (declared,
  or counted after decompression while streaming: no gzip bomb) or JSON nested deeper
  than ``max_json_depth`` is refused as :class:`~trigon_sync.errors.AnswerRefused`;
  JSON's ``NaN``/``Infinity`` extensions count as malformed.
* **Server time is recorded.** Every answer's ``Date`` header is kept with the local
  clock's reading at that moment (``RequestStats.server_clock``), so the run can refuse
  to write when the local clock is wrong (see :mod:`trigon_sync.http.clock_skew`); a write is
  refused here too when the last answer already showed the clock off.
* **Time is injected.** ``sleep``, ``clock`` and ``wall`` are parameters, so tests
  neither wait nor need freezegun.
"""

from __future__ import annotations

import enum
import functools
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from trigon_sync import redact
from trigon_sync.errors import AnswerRefused, ApiError, ServiceUnavailable, WriteUnconfirmed
from trigon_sync.http import clock_skew as skew
from trigon_sync.http import waits
from trigon_sync.http.answer_limits import (
    ACCEPT_ENCODING,
    MISSING,
    AnswerLimits,
    Refused,
    parse_json,
    read_body,
)
from trigon_sync.http.pacer import (
    Clock,
    RateLimitPacer,
    Sleep,
    UnusableRetryAfter,
    retry_after,
    server_epoch,
)
from trigon_sync.http.request_stats import RequestStats, Wall

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


ENV_RETRY_DELAY = "TRIGON_SYNC_RETRY_DELAY"
"""Seconds before the first retry instead of 0.5 (each further one waits twice as long).
The chaos tests set 0.05 so that their bad day is not mostly backing off on a real clock.
A lower value only makes a run give up sooner during an outage (the number of attempts
and what may be repeated stay the same), so it is held to 0.05-30 s; anything else keeps
the default."""
DEFAULT_RETRY_DELAY = 0.5
RETRY_DELAY_RANGE = (0.05, 30.0)


def default_retry_delay() -> float:
    """``DEFAULT_RETRY_DELAY``, or ``$TRIGON_SYNC_RETRY_DELAY`` when it is within range."""
    raw = os.environ.get(ENV_RETRY_DELAY, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_RETRY_DELAY
    except ValueError:
        return DEFAULT_RETRY_DELAY  # an unreadable value keeps the default rather than failing cron
    low, high = RETRY_DELAY_RANGE
    return seconds if low <= seconds <= high else DEFAULT_RETRY_DELAY


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
        headers={"Accept-Encoding": ACCEPT_ENCODING, **dict(headers or {})},
        follow_redirects=False,
        trust_env=transport is None,
        verify=verified_tls() if transport is None else True,
    )


@functools.cache
def verified_tls() -> ssl.SSLContext:
    """The certificate-checking TLS context every client shares: the one httpx would build
    (certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built once per process,
    because reading the CA bundle costs ~15 ms of CPU per client otherwise."""
    return httpx.create_ssl_context(trust_env=True)


class RetryMode(enum.Enum):
    """How far a request may be repeated after a failure."""

    AUTO = "auto"
    """Derive from the method: GET/PATCH/PUT/DELETE are safe, a POST only when it surely
    did not reach the server."""
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
    unreachable_attempts: int | None = None
    """Attempts while the host cannot even be connected to (None: ``max_attempts``).
    Someone at a terminal is better served by one clear "unreachable at URL" line in
    seconds than by a minute of silent connect timeouts."""
    silent_attempts: int | None = None
    """Attempts while the server takes the connection but sends no answer in time (None:
    ``max_attempts``). At a terminal each such try costs the whole read timeout, so a
    silent server would keep a person waiting minutes for the same line."""
    base_delay: float = field(default_factory=default_retry_delay)
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    jitter: Callable[[], float] = field(default=lambda: random.uniform(0.5, 1.0))  # noqa: S311 - backoff jitter, not crypto

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter before attempt ``attempt + 1``."""
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * self.jitter()


@dataclass(frozen=True)
class ApiResponse:
    """A final answer: status, headers and the parsed JSON body (None when empty)."""

    status: int
    headers: httpx.Headers
    body: Any
    url: str = ""
    """The address asked (no query): a 404 names it, since a wrong base URL looks so."""

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

    def __init__(
        self,
        reason: str,
        *,
        sent: bool,
        retry_after: float | None = None,
        silent: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent
        self.retry_after = retry_after
        self.silent = silent


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
        limits: AnswerLimits | None = None,
        clock: Clock = time.monotonic,
        wall: Wall | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._client = client
        self.stop = stop
        """Once set, a read that would wait (backoff, rate limit) raises ``waits.Stopped``
        instead: a stopping run finishes its requests in flight, not its waits."""
        self.service = service
        self.base_url = str(client.base_url).rstrip("/")
        self._hint = hint
        self.policy = policy or RetryPolicy()
        self.pacer = pacer or RateLimitPacer(sleep=sleep)
        self.pacer.service = self.pacer.service or service
        self.pacer.stop = self.pacer.stop or stop
        self._sleep = sleep
        self.limits = limits or AnswerLimits()
        self._clock = clock
        self.stats = RequestStats(wall)

    def close(self) -> None:
        self._client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = MISSING,
        headers: Mapping[str, str] | None = None,
        retry: RetryMode = RetryMode.AUTO,
    ) -> ApiResponse:
        """Send with retries; return the final answer or raise ServiceUnavailable.

        A non-retriable error answer (most 4xx) is returned, not raised: only the API
        client knows what its error codes mean.
        """
        method = method.upper()
        if method not in ("GET", "HEAD"):
            self._refuse_write_on_skew()
        safe = retry is RetryMode.REPEATABLE or (
            retry is RetryMode.AUTO and method in IDEMPOTENT_METHODS
        )
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._attempt(method, path, params, json_body, headers)
            except _Retriable as failure:
                may_repeat = safe or not failure.sent or failure.retry_after is not None
                if not may_repeat:
                    raise self._unconfirmed(method, path, failure) from None
                if attempt >= self._attempts(failure):
                    raise self._gave_up(failure, attempt) from None
                if failure.retry_after is not None:
                    if failure.retry_after > self.policy.max_retry_after:
                        raise self._gave_up(failure, attempt) from None
                    delay = failure.retry_after
                else:
                    delay = self.policy.backoff(attempt)
                self.stats.count_retry(rate_limited=failure.retry_after is not None)
                waits.announce(
                    waits.Wait(
                        self.service,
                        delay,
                        f"retry {attempt + 1} of {self._attempts(failure)} after {failure.reason}",
                    )
                )
                waits.pause(
                    delay, method=method, service=self.service, stop=self.stop, sleep=self._sleep
                )

    def _attempts(self, failure: _Retriable) -> int:
        """How many attempts this kind of failure gets."""
        limit = None
        if not failure.sent:
            limit = self.policy.unreachable_attempts
        elif failure.silent:
            limit = self.policy.silent_attempts
        return self.policy.max_attempts if limit is None else min(limit, self.policy.max_attempts)

    def _refuse_write_on_skew(self) -> None:
        """No write while this service's last answer showed the local clock off."""
        sample = self.stats.server_clock.sample
        problem = skew.problem([skew.Skew(self.service, sample)]) if sample else None
        if problem is not None:
            raise problem

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
    ) -> ApiResponse:
        ticket: int | None = self.pacer.acquire(method)
        self.stats.count(method)
        deadline = self._clock() + self.limits.deadline
        kwargs: dict[str, Any] = {
            "params": params,
            "headers": headers,
            "timeout": self._capped_timeout(self.limits.deadline),
        }
        if json_body is not MISSING:
            kwargs["json"] = json_body
        try:
            request = self._client.build_request(method, path, **kwargs)
            response = self._client.send(request, stream=True)
            try:
                self.stats.server_clock.observe(response.headers)
                self.pacer.observe(method, response.headers, ticket)
                ticket = None
                content = self._read_body(response, deadline)
            finally:
                response.close()
        except BaseException as exc:
            self.pacer.release(ticket)  # no answer: no longer in flight
            if isinstance(exc, _NOT_SENT):
                raise _Retriable(f"cannot connect ({type(exc).__name__})", sent=False) from exc
            if isinstance(exc, httpx.TimeoutException):
                raise _Retriable("no answer in time", sent=True, silent=True) from exc
            if isinstance(exc, httpx.TransportError):
                raise _Retriable(f"connection failed ({type(exc).__name__})", sent=True) from exc
            raise
        status = response.status_code
        body = self._parse(content, status)
        if status == 429:
            try:
                wait = retry_after(
                    response.headers.get("Retry-After"), server_epoch(response.headers)
                )
            except UnusableRetryAfter:
                raise ServiceUnavailable(
                    f"{self.service} at {self.base_url} answered HTTP 429 with an unusable "
                    "Retry-After (not a finite number); the request was not repeated",
                    hint=self._hint,
                ) from None
            raise _Retriable(
                "rate limited (HTTP 429)",
                sent=True,
                retry_after=wait if wait is not None else self.policy.backoff(1),
            )
        if status >= 500:
            code = body["error"].get("code") if _is_error_body(body) else None
            code = redact.scrub(str(code))[:80] if code else None
            raise _Retriable(f"HTTP {status}{f' {code}' if code else ''}", sent=True)
        if 200 <= status < 300 and body is MISSING:
            raise _Retriable(f"malformed JSON in an HTTP {status} answer", sent=True)
        return ApiResponse(
            status,
            response.headers,
            None if body is MISSING else body,
            str(request.url.copy_with(query=None)),
        )

    def _unconfirmed(self, method: str, path: str, failure: _Retriable) -> WriteUnconfirmed:
        return WriteUnconfirmed(
            f"{self.service} at {self.base_url} failed on {method} {path}: {failure.reason}; "
            "the request was not repeated because it may already have taken effect",
            hint=self._hint,
        )

    def _capped_timeout(self, remaining: float) -> httpx.Timeout:
        """The client's per-phase timeouts, none longer than what is left of the deadline."""
        base = self._client.timeout
        remaining = max(0.001, remaining)

        def cap(value: float | None) -> float:
            return remaining if value is None else min(value, remaining)

        return httpx.Timeout(
            connect=cap(base.connect),
            read=cap(base.read),
            write=cap(base.write),
            pool=cap(base.pool),
        )

    def _read_body(self, response: httpx.Response, deadline: float) -> bytes:
        try:
            return read_body(response, self.limits, deadline, self._clock)
        except Refused as refused:
            raise self._refused(refused.what) from None

    def _parse(self, content: bytes, status: int) -> Any:
        try:
            return parse_json(content, status, self.limits)
        except Refused as refused:
            raise self._refused(refused.what) from None

    def _refused(self, what: str) -> AnswerRefused:
        return AnswerRefused(
            f"{self.service} at {self.base_url} sent {what}; it was refused unread",
            hint=self._hint,
        )

    def _gave_up(self, failure: _Retriable, attempts: int) -> ServiceUnavailable:
        if not failure.sent:
            message = f"{self.service} is unreachable at {self.base_url}: {failure.reason}"
        else:
            message = (
                f"{self.service} at {self.base_url} kept failing: {failure.reason}, "
                f"{attempts} attempt(s)"
            )
        return ServiceUnavailable(message, hint=self._hint)


def _is_error_body(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


QUOTED_CHARS = 300
"""How much of a server's error text a message quotes (cron mail is not a dump)."""


def _quoted(text: str) -> str:
    return text if len(text) <= QUOTED_CHARS else text[:QUOTED_CHARS] + "…"


def unexpected(service: str, response: ApiResponse, *, hint: str | None = None) -> ApiError:
    """An ApiError for an answer the client has no specific handling for."""
    # Scrub before cutting: a cut must not leave the first half of a secret behind.
    code = f" {_quoted(redact.scrub(response.error_code))}" if response.error_code else ""
    if hint is None and response.status == 404:
        # A 404 no client expects is most often a base URL with a wrong path (/v2).
        where = f" ({redact.scrub(response.url)})" if response.url else ""
        hint = (
            f"check the {service} URL: the address asked{where} does not exist there; "
            "the base URL usually ends in the API version (…/v1, …/api/v3)"
        )
    return ApiError(
        f"{service} answered HTTP {response.status}{code}: "
        f"{_quoted(redact.scrub(response.error_message))}",
        status=response.status,
        code=redact.scrub(response.error_code) if response.error_code else None,
        details=redact.scrub_data(response.error.get("details")),
        hint=hint,
    )
