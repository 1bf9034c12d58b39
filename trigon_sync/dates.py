"""Dates and period labels as users type and read them.

Estonian accountants write ``01.10.2024``; TOML and JSON use ``2024-10-01``. Every place
that takes a date from a person accepts both, and rejects impossible ones such as
``31.02.2024`` with a message that says why, instead of silently rolling over.
A *period* is a month label ``YYYY-MM``: the ``{period}`` of a summary task title.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from trigon_sync.errors import UsageError

_ISO = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")
_EE = re.compile(r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})$")
_PERIOD = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})$")

Period = tuple[int, int]
"""A calendar month as ``(year, month)``; compares and sorts chronologically."""


def parse_date(text: str) -> dt.date:
    """Read ``2024-10-01`` or ``01.10.2024``; raise :class:`UsageError` saying what is wrong."""
    raw = text.strip()
    match = _ISO.match(raw) or _EE.match(raw)
    if match is None:
        raise UsageError(
            f"not a date: {text!r}",
            hint="write it as 2024-10-01 or 01.10.2024",
        )
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    if not 1 <= month <= 12:
        raise UsageError(f"not a date: {text!r} (there is no month {month})")
    length = calendar.monthrange(year, month)[1]
    if not 1 <= day <= length:
        name = calendar.month_name[month]
        raise UsageError(f"not a date: {text!r} ({name} {year} has {length} days)")
    return dt.date(year, month, day)


def toml_date(value: object, what: str) -> dt.date:
    """A day in a TOML file trigon-sync writes (state.toml): the parser (store/toml_read.py)
    gives a ``datetime.date``. A date-time, quoted text or a number there is a hand edit
    gone wrong, refused with TypeError naming ``what`` rather than guessed at, wherever the
    day is read."""
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{what} is not a date")
    return value


def format_ee(day: dt.date) -> str:
    """The Estonian way a person reads a date: ``29.11.2024``."""
    return day.strftime("%d.%m.%Y")


def format_ee_time(at: str) -> str:
    """A recorded ISO time as a person reads it (``30.11.2024 00:30``); text that is no
    time (a hand-edited record) is shown as it is."""
    try:
        return dt.datetime.fromisoformat(at).strftime("%d.%m.%Y %H:%M")
    except ValueError:
        return at


def format_ee_day(at: str) -> str:
    """A recorded ISO date (or the date of an ISO time) as a person reads it
    (``31.10.2024``); text that is no date is shown as it is."""
    try:
        return format_ee(dt.date.fromisoformat(at[:10]))
    except ValueError:
        return at


def parse_period(text: str) -> Period:
    """Read a ``YYYY-MM`` label into ``(year, month)``; :class:`UsageError` if malformed."""
    match = _PERIOD.match(text.strip())
    if match is None or not 1 <= int(match["m"]) <= 12:
        raise UsageError(f"not a period: {text!r}", hint="write it as YYYY-MM, e.g. 2024-11")
    return int(match["y"]), int(match["m"])


def format_period(period: Period) -> str:
    """``(2024, 11)`` -> ``"2024-11"``."""
    return f"{period[0]:04d}-{period[1]:02d}"


def period_of_date(day: dt.date) -> Period:
    """The calendar month a date falls in."""
    return day.year, day.month


def add_months(period: Period, months: int) -> Period:
    """Shift a month by ``months`` (may be negative), across year boundaries."""
    index = period[0] * 12 + (period[1] - 1) + months
    return index // 12, index % 12 + 1


def month_length(period: Period) -> int:
    """Number of days in the month."""
    return calendar.monthrange(*period)[1]


def last_day(period: Period) -> dt.date:
    """The last calendar day of the month."""
    return dt.date(period[0], period[1], month_length(period))
