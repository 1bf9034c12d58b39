"""Pacing requests by the services' ``X-RateLimit-*`` headers: the whole budget, never more.

:class:`RateLimitPacer` lets exactly as many requests go per window as the headers allow,
counting the ones still in flight (the monthly run sends from a thread pool); a waiting
caller wakes on the next answer or at the reset. The real Uku sends ``X-RateLimit-Reset``
as the epoch second the window resets, placed here by the server's own clock (its
``Date``); values that are not finite are refused and absurd ones clamped, never slept on.
``Retry-After`` may be seconds or an HTTP date. Time is injected (``sleep``, ``clock``,
``epoch``), so tests neither wait nor need freezegun.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from trigon_sync.http import waits

Sleep = Callable[[float], None]
Clock = Callable[[], float]

EPOCH_AFTER = 1_000_000.0
"""``X-RateLimit-Reset`` at or above this is a Unix timestamp in seconds (the real Uku);
below it, seconds until the reset (the sandbox, some proxies). 10^6 s is 11.6 days: no
rate-limit window is that long and no real timestamp that small."""


# Answers of one window report resets that differ by the server's whole-second rounding
# plus latency; a reset further off is another window (a later one, or a short burst
# limit that a 429 announces).
_SAME_WINDOW_SLACK = 1.5
_OFFSET_MEMORY = 300.0
"""Seconds a server-clock sample is trusted before a lower one may replace it (drift)."""
_ANNOUNCE_FROM = 1.0
"""Seconds of waiting from which a wait is announced (http/waits.py)."""
_STOP_POLL = 0.2
"""Seconds between looks at ``stop`` while a read waits for answers in flight."""
_UNKNOWN_RESET_WAIT = 1.0
"""Seconds to wait when a bucket is spent and no answer said when it resets."""


@dataclass
class _Bucket:
    """What the answers of the current window said about one bucket."""

    limit: int | None = None
    remaining: int | None = None
    """Lowest ``X-RateLimit-Remaining`` an answer of this window reported."""
    reset_at: float | None = None
    """Local clock reading at which this window surely ended; None: not known."""
    previous_reset_at: float | None = None
    window: int = 0
    """Generation: bumped whenever a new window starts."""
    blind: list[int] = field(default_factory=list)
    """Requests of this window whose answer carried no usable figure (a burst 429, no
    headers, no answer), each as the first ticket issued after it came back: an answer
    to that ticket or a later one already counts it."""
    paced: bool | None = None
    """None: no answer yet; False: the service sends no limits for this bucket."""


class RateLimitPacer:
    """Sends exactly as many requests per window as the ``X-RateLimit-*`` headers allow.

    ``tier_of(method)`` names the bucket a request will use before it is sent (Uku has
    separate read and write buckets, Trigon one per user); the answer's
    ``X-RateLimit-Tier`` header, when present, says which bucket it actually used.

    The accounting, per bucket and window (fixed windows, as Uku's and the sandbox's):

    * An answer's ``remaining`` was counted when the server handled *that* request;
      requests still in flight may or may not be in it. So the room for more is the
      lowest ``remaining`` of the window minus every request of the bucket still in
      flight: never more than the server has left, and exactly what it has left as soon
      as the answers are in. A caller who finds no room while answers are on their way
      waits for the next answer (not for the reset), so nothing is kept in reserve.
    * After the reset the room is ``X-RateLimit-Limit`` minus what is in flight; before
      any answer at all only one request goes (its answer tells the limit).
    * ``X-RateLimit-Reset`` at or above :data:`EPOCH_AFTER` is the epoch second the window
      resets (the real Uku). It is placed on the local clock with the server's own clock:
      the largest ``Date - local time at the answer`` seen is a lower bound of the
      server's lead (``Date`` is rounded down and was stamped before the answer came
      back), so the computed reset is never before the real one and, after a few
      answers, within milliseconds of it. Smaller values are seconds until the reset.
    * Answers arrive out of order: within one window the lowest ``remaining`` and the
      earliest reset win; a reset already past is an earlier window's (ignored); a clearly
      later one starts a new window; a clearly earlier one (a short burst limit on a 429)
      counts the request as spent but leaves the window alone.
    """

    def __init__(
        self,
        *,
        tier_of: Callable[[str], str] = lambda _method: "default",
        max_wait: float = 120.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        epoch: Clock = time.time,
        service: str = "",
        stop: threading.Event | None = None,
    ) -> None:
        self.service = service
        self.stop = stop
        """Once set, a read waiting for room raises ``waits.Stopped`` (see HttpSession)."""
        """Who the waits are for ("Trigon", "Uku"): named in what :mod:`waits` announces."""
        self._announced: tuple[str, int, float | None] | None = None
        self._tier_of = tier_of
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._epoch = epoch
        self._cond = threading.Condition()
        self._buckets: dict[str, _Bucket] = {}
        self._in_flight: dict[int, tuple[str, int]] = {}  # ticket -> (tier, window)
        self._flying: Counter[str] = Counter()
        self._aliases: dict[str, str] = {}  # tier_of's name -> the X-RateLimit-Tier it got
        self._next_ticket = 0
        self._server_lead: tuple[float, float] | None = None  # (lower bound, taken at)
        self.waited_seconds = 0.0

    def acquire(self, method: str) -> int:
        """Block until the bucket for ``method`` may take one more request; return its ticket.

        Pass the ticket to :meth:`observe` with the answer, or to :meth:`release` when no
        answer came, so the request stops counting as in flight.
        """
        with self._cond:
            named = self._tier_of(method)
            tier = self._aliases.get(named, named)
            stoppable = self.stop is not None and method.upper() in waits.READS
            while True:
                bucket = self._buckets.setdefault(tier, _Bucket())
                now = self._clock()
                self._turn_over(bucket, now)
                room = self._room(tier, bucket)
                if room is None or room > 0:
                    self._next_ticket += 1
                    self._in_flight[self._next_ticket] = (tier, bucket.window)
                    self._flying[tier] += 1
                    return self._next_ticket
                if self._flying[tier]:
                    # Answers on their way will tell more (or the window ends first).
                    until = self._max_wait if bucket.reset_at is None else bucket.reset_at - now
                    if bucket.reset_at is not None:
                        self._announce(tier, bucket, until)
                    if stoppable and self.stop is not None and self.stop.is_set():
                        raise waits.Stopped(self.service or tier)
                    # a stop is noticed within _STOP_POLL seconds (nothing notifies us of it)
                    limit = min(self._max_wait, _STOP_POLL) if stoppable else self._max_wait
                    self._cond.wait(min(max(until, 0.001), limit))
                    self.waited_seconds += max(0.0, self._clock() - now)
                    continue
                deadline = bucket.reset_at
                wait = _UNKNOWN_RESET_WAIT if deadline is None else deadline - now
                wait = max(0.0, min(wait, self._max_wait))
                self.waited_seconds += wait
                self._announce(tier, bucket, wait)
                self._cond.release()
                try:
                    waits.pause(
                        wait,
                        method=method.upper(),
                        service=self.service or tier,
                        stop=self.stop,
                        sleep=self._sleep,
                    )
                finally:
                    self._cond.acquire()
                if bucket.reset_at == deadline:
                    # No newer answer since: the window has turned over, the bucket is fresh.
                    self._new_window(bucket, None)

    def _announce(self, tier: str, bucket: _Bucket, seconds: float) -> None:
        """Say once per window that callers now wait for its reset (a short wait, under
        :data:`_ANNOUNCE_FROM` seconds, is not worth a line)."""
        key = (tier, bucket.window, bucket.reset_at)
        if seconds < _ANNOUNCE_FROM or key == self._announced:
            return
        self._announced = key
        tiers = "" if tier == "default" else f" ({tier})"
        waits.announce(
            waits.Wait(self.service or tier, seconds, f"rate limit{tiers}, until its window resets")
        )

    def release(self, ticket: int | None) -> None:
        """A request that got no answer no longer counts as in flight (but as spent)."""
        if ticket is None:
            return
        with self._cond:
            entry = self._land(ticket)
            if entry is not None:
                bucket = self._buckets.setdefault(entry[0], _Bucket())
                if bucket.paced and entry[1] == bucket.window:
                    bucket.blind.append(self._next_ticket + 1)
            self._cond.notify_all()

    def observe(self, method: str, headers: httpx.Headers, ticket: int | None = None) -> None:
        """Record what the answer to the request holding ``ticket`` said about its bucket."""
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        limit = _int_header(headers, "X-RateLimit-Limit")
        raw_reset = _number(headers.get("X-RateLimit-Reset"))
        date = parse_http_date(headers.get("Date"))
        with self._cond:
            now = self._clock()
            if date is not None:
                self._learn_server_lead(date.timestamp() - now, now)
            entry = self._land(ticket) if ticket is not None else None
            tier = headers.get("X-RateLimit-Tier") or (entry[0] if entry else self._tier_of(method))
            named = self._tier_of(method)
            if tier != named and self._aliases.get(named) != tier:
                self._aliases[named] = tier  # later requests like this one go by that bucket
            bucket = self._buckets.setdefault(tier, _Bucket())
            self._turn_over(bucket, now)
            ours = entry is None or entry[1] == bucket.window
            reset_at = self._reset_at(raw_reset, now)
            if remaining is None or reset_at is None:
                if bucket.paced is None and remaining is None and raw_reset is None:
                    bucket.paced = False  # this service does not announce its limits
                elif bucket.paced and ours and entry is not None:
                    bucket.blind.append(self._next_ticket + 1)
                self._cond.notify_all()
                return
            bucket.paced = True
            bucket.limit = limit if limit is not None and limit >= 0 else bucket.limit
            remaining = max(0, remaining)
            seen = self._next_ticket + 1 if ticket is None else ticket
            if reset_at <= now or _near(reset_at, bucket.previous_reset_at):
                pass  # an earlier window's answer, come back late
            elif bucket.reset_at is None or reset_at > bucket.reset_at + _SAME_WINDOW_SLACK:
                if bucket.reset_at is not None:
                    self._new_window(bucket, bucket.reset_at)
                bucket.reset_at = reset_at
                bucket.remaining = remaining
                bucket.blind = [mark for mark in bucket.blind if mark > seen]
            elif reset_at < bucket.reset_at - _SAME_WINDOW_SLACK:
                if ours and entry is not None:
                    bucket.blind.append(self._next_ticket + 1)  # a burst limit's answer
            else:
                bucket.reset_at = min(bucket.reset_at, reset_at)
                known = bucket.remaining
                bucket.remaining = remaining if known is None else min(known, remaining)
                bucket.blind = [mark for mark in bucket.blind if mark > seen]
            self._cond.notify_all()

    def snapshot(self) -> dict[str, tuple[int | None, float]]:
        """Bucket -> (requests that may go now, seconds to reset), for diagnostics and tests."""
        with self._cond:
            now = self._clock()
            return {
                tier: (
                    self._room(tier, bucket),
                    0.0 if bucket.reset_at is None else max(0.0, bucket.reset_at - now),
                )
                for tier, bucket in self._buckets.items()
            }

    def _land(self, ticket: int) -> tuple[str, int] | None:
        entry = self._in_flight.pop(ticket, None)
        if entry is not None:
            self._flying[entry[0]] -= 1
        return entry

    def _room(self, tier: str, bucket: _Bucket) -> int | None:
        """How many more requests the bucket takes now; None: no limit known."""
        flying = self._flying[tier]
        if bucket.paced is None:
            return 1 - flying  # one probe until an answer says what the limits are
        if bucket.remaining is not None:
            left = bucket.remaining
        elif bucket.limit is not None:
            left = bucket.limit
        else:
            return None
        return left - len(bucket.blind) - flying

    def _turn_over(self, bucket: _Bucket, now: float) -> None:
        if bucket.reset_at is not None and now >= bucket.reset_at:
            self._new_window(bucket, bucket.reset_at)

    @staticmethod
    def _new_window(bucket: _Bucket, ended_at: float | None) -> None:
        bucket.previous_reset_at = ended_at
        bucket.reset_at = None
        bucket.remaining = None
        bucket.blind = []
        bucket.window += 1

    def _learn_server_lead(self, sample: float, now: float) -> None:
        """Keep the largest ``server time - local clock`` seen (a lower bound of the truth);
        after :data:`_OFFSET_MEMORY` seconds a lower sample may replace it (clock drift)."""
        known = self._server_lead
        if known is None or sample >= known[0] or now - known[1] > _OFFSET_MEMORY:
            self._server_lead = (sample, now)

    def _reset_at(self, value: float | None, now: float) -> float | None:
        """The local clock reading at which the window ends, within ``max_wait`` of now."""
        if value is None or value < 0:
            return None
        if value >= EPOCH_AFTER:
            lead = self._server_lead[0] if self._server_lead else self._epoch() - now
            value = value - lead - now
        return now + min(max(0.0, value), self._max_wait)


def _near(when: float, other: float | None) -> bool:
    return other is not None and abs(when - other) <= _SAME_WINDOW_SLACK


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _number(value: str | None) -> float | None:
    """A header's number, or None when absent or not a number (NaN and inf included)."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def server_epoch(headers: httpx.Headers) -> float:
    """The answer's own ``Date`` as a Unix time, else the local clock's.

    Epoch-valued headers are measured against the server's clock, so a wrong local clock
    cannot turn a one-minute reset into a year-long (or negative) wait.
    """
    when = parse_http_date(headers.get("Date"))
    return when.timestamp() if when is not None else time.time()


def parse_http_date(value: str | None) -> dt.datetime | None:
    """An HTTP date (``Date``, ``Retry-After``) as an aware UTC datetime, or None."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def reset_in(value: str | None, now_epoch: float, max_wait: float) -> float | None:
    """Seconds until a rate-limit bucket resets, within [0, ``max_wait``].

    None when the header is missing, not a number, NaN/infinite or negative: the pacer
    then knows nothing rather than something absurd. A value of at least
    :data:`EPOCH_AFTER` is a timestamp and is measured from ``now_epoch``.
    """
    number = _number(value)
    if number is None or number < 0:
        return None
    if number >= EPOCH_AFTER:
        number -= now_epoch
    return min(max(0.0, number), max_wait)


class UnusableRetryAfter(ValueError):
    """Retry-After is NaN or infinite: no wait derived from it can be trusted."""


def retry_after(value: str | None, now_epoch: float) -> float | None:
    """Seconds a 429 asks us to wait: delta-seconds or an HTTP date, never negative.

    None when absent or unreadable (the caller backs off instead); NaN or infinity raise
    :class:`UnusableRetryAfter`; a date in the past or a negative number is 0.
    """
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        when = parse_http_date(value)
        if when is None:
            return None
        seconds = when.timestamp() - now_epoch
    if not math.isfinite(seconds):
        raise UnusableRetryAfter(value)
    return max(0.0, seconds)
