"""Is the local clock to be trusted? Compare it with the services' ``Date`` headers.

Import days and windows come from the local clock: a clock a year ahead would make one
nightly run create a task for every "due" month, and a clock behind would recount days
already billed. Trigon and Uku run NTP-synchronised servers, so each answer's ``Date``
(recorded by :mod:`trigon_sync.http.session`) is a second opinion. Pure: samples in, a verdict
out; the HTTP layer and the CLI decide when to ask.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trigon_sync.clock import TALLINN
from trigon_sync.errors import ClockSkewError

MAX_SKEW = dt.timedelta(minutes=5)
"""Disagreement beyond which nothing is written (HTTP dates have 1 s resolution and an
answer can be a few seconds old; a healthy NTP clock is within a second)."""

FIX_HINT = (
    "fix the system clock (enable NTP: `timedatectl set-ntp true`, or check the "
    "container's host), then run again; nothing was written"
)


@dataclass(frozen=True)
class DateSample:
    """A service's ``Date`` and the local clock's reading when that answer arrived."""

    server: dt.datetime
    local: dt.datetime

    @property
    def offset(self) -> dt.timedelta:
        """How far the service is ahead of the local clock (negative: local is ahead)."""
        return self.server - self.local


@dataclass(frozen=True)
class Skew:
    """One service's sample, named for the message."""

    service: str
    sample: DateSample

    @property
    def offset(self) -> dt.timedelta:
        return self.sample.offset

    def describe(self) -> str:
        """E.g. "the local clock is 365 days ahead of Uku's" (for status and errors)."""
        offset = self.offset
        if abs(offset) < dt.timedelta(seconds=1):
            return f"the local clock agrees with {self.service}'s"
        direction = "ahead of" if offset < dt.timedelta(0) else "behind"
        return f"the local clock is {span(abs(offset))} {direction} {self.service}'s"


def span(delta: dt.timedelta) -> str:
    """A short human duration: "3 s", "12 min", "5 h 10 min", "365 days"."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60} min"
    return f"{round(seconds / 86400)} days"


def problem(skews: Iterable[Skew], limit: dt.timedelta = MAX_SKEW) -> ClockSkewError | None:
    """The error to stop with when any service disagrees by more than ``limit``."""
    worst = max(skews, key=lambda s: abs(s.offset), default=None)
    if worst is None or abs(worst.offset) <= limit:
        return None
    return ClockSkewError(
        f"{worst.describe()} (more than {span(limit)} apart); trigon-sync will not "
        "count or write with a wrong clock",
        hint=FIX_HINT,
    )


def services_today(local_now: dt.datetime, skews: Sequence[Skew]) -> dt.date:
    """Today in Tallinn by the earliest of the local clock and the services' clocks.

    A period whose import day has not come by every clock's date is not due yet.
    """
    moments = [local_now] + [local_now + s.offset for s in skews]
    return min(moment.astimezone(TALLINN).date() for moment in moments)


def behind_last_run(
    local_now: dt.datetime, last_run_at: dt.datetime | None, limit: dt.timedelta = MAX_SKEW
) -> ClockSkewError | None:
    """The local clock is earlier than a run already recorded: it has gone back.

    Checked without the network, so a clock behind is caught even on a night when,
    by that clock, nothing is due.
    """
    if last_run_at is None or last_run_at - local_now <= limit:
        return None
    return ClockSkewError(
        f"the local clock ({local_now.isoformat(timespec='minutes')}) is "
        f"{span(last_run_at - local_now)} behind the last recorded run "
        f"({last_run_at.isoformat(timespec='minutes')}); trigon-sync will not count or "
        "write with a wrong clock",
        hint=FIX_HINT,
    )
