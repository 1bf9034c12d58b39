"""workalendar's Estonian calendar against the maintained ``holidays`` package.

workalendar is barely maintained; if its Estonian working days ever drift from
``holidays`` (a law change, a bug), last-work-day imports would move, so CI must notice.
"""

from __future__ import annotations

import datetime as dt

import holidays

from trigon_sync.schedule.rules import is_work_day


def test_working_days_agree_with_holidays_2020_to_2040() -> None:
    """Every day from 2020 to 2040 is a working day in both calendars or in neither."""
    estonian = holidays.country_holidays("EE", years=range(2020, 2041))
    day, end = dt.date(2020, 1, 1), dt.date(2040, 12, 31)
    disagreements = []
    while day <= end:
        expected = day.weekday() < 5 and day not in estonian
        if is_work_day(day) != expected:
            disagreements.append((day, estonian.get(day)))
        day += dt.timedelta(days=1)
    assert disagreements == []
