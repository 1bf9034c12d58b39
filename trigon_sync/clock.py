"""The one place that reads the wall clock, always in Europe/Tallinn.

Import days are Tallinn dates: at 00:30 in Tallinn a server on UTC is still on the
previous day, so nothing may derive a date from the system's local time or from UTC.
Everything else takes ``today`` / ``now`` as an argument.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TALLINN = ZoneInfo("Europe/Tallinn")


def now() -> dt.datetime:
    """The current moment as an aware Europe/Tallinn datetime."""
    return dt.datetime.now(tz=TALLINN)


def today() -> dt.date:
    """Today's date in Tallinn, whatever timezone the machine runs in."""
    return now().date()
