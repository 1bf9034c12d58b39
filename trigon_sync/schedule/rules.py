"""The import-window engine: when runs happen and which days each one counts.

Uku bills from counts taken over consecutive windows that must tile time exactly, even
when the admin changes the schedule mid-stream or cron misses nights. Everything here is
pure: it takes ``today`` and the persisted ``last_period_end`` / ``last_period`` and
returns dataclasses; it never reads a clock or a file.

Rules (one scheduled import day per *period month* M):

* ``last_work_day``: the last Estonian working day of M;
* ``last_calendar_day``: the last day of M;
* ``day_of_next_month``: day N of month M+1, clamped to that month's length.

A run on import day D covers ``[start, D - 1]`` with ``start = last_period_end + 1`` (or the
first import date before any run) and is labelled ``period(D) = M``. The next import day is
the earliest scheduled D, under the rule configured *now*, with ``D - 1 >= start``,
``period(D) > last_period`` and ``period(D) >= month(start)``. Because each rule's import
day grows strictly with M, that is the first M from ``max(month(start), last_period + 1)``
whose import day lies after ``start``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, get_args

from trigon_sync.dates import Period, add_months, format_period, last_day, month_length

if TYPE_CHECKING:
    from workalendar.europe import Estonia

RuleKind = Literal["last_work_day", "last_calendar_day", "day_of_next_month"]
RULE_KINDS: tuple[str, ...] = get_args(RuleKind)
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class ScheduleRule:
    """When in the month the import runs; ``day`` is used only by ``day_of_next_month``."""

    kind: RuleKind
    day: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"unknown schedule {self.kind!r}")
        if self.kind == "day_of_next_month":
            if self.day is None or not 1 <= self.day <= 31:
                raise ValueError("day_of_next_month needs a day from 1 to 31")
        elif self.day is not None:
            raise ValueError(f"{self.kind} takes no day")

    def describe(self) -> str:
        """Human wording for tables and prompts."""
        if self.kind == "day_of_next_month":
            return f"day {self.day} of the following month"
        return self.kind.replace("_", " ")


@dataclass(frozen=True)
class Run:
    """One scheduled import: the day it runs, the inclusive window it counts, its label."""

    import_day: dt.date
    window_start: dt.date
    window_end: dt.date
    period: str


@lru_cache(maxsize=1)
def _calendar() -> Estonia:
    # Loaded on first use: a calendar-day rule, and the nightly no-op, never need it.
    from workalendar.europe import Estonia

    return Estonia()


def is_work_day(day: dt.date) -> bool:
    """Whether ``day`` is an Estonian working day (not a weekend or public holiday)."""
    return bool(_calendar().is_working_day(day))


def import_day_for(rule: ScheduleRule, period: Period) -> dt.date:
    """The scheduled import day whose run is labelled ``period``."""
    if rule.kind == "last_calendar_day":
        return last_day(period)
    if rule.kind == "last_work_day":
        day = last_day(period)
        while not is_work_day(day):
            day -= ONE_DAY
        return day
    following = add_months(period, 1)
    if rule.day is None:  # ScheduleRule refuses this; keeps the type checker honest
        raise ValueError("day_of_next_month needs a day")
    return dt.date(*following, min(rule.day, month_length(following)))


def _period_tuple_of(rule: ScheduleRule, day: dt.date) -> Period:
    month = (day.year, day.month)
    return add_months(month, -1) if rule.kind == "day_of_next_month" else month


def period_of(rule: ScheduleRule, import_day: dt.date) -> str:
    """The ``YYYY-MM`` label of a run on ``import_day`` (the month before for day-of-next-month)."""
    return format_period(_period_tuple_of(rule, import_day))


def _parse_label(label: str) -> Period:
    year, month = label.split("-")
    return int(year), int(month)


def next_run(rule: ScheduleRule, start: dt.date, last_period: str | None) -> Run:
    """The next run for a window starting on ``start`` (see the module docstring)."""
    candidate: Period = (start.year, start.month)
    if last_period is not None:
        candidate = max(candidate, add_months(_parse_label(last_period), 1))
    while (day := import_day_for(rule, candidate)) <= start:
        candidate = add_months(candidate, 1)
    return Run(
        import_day=day,
        window_start=start,
        window_end=day - ONE_DAY,
        period=format_period(candidate),
    )


def window_start(first_import_date: dt.date, last_period_end: dt.date | None) -> dt.date:
    """Where the next window begins: the day after the last one, or the first import date."""
    return first_import_date if last_period_end is None else last_period_end + ONE_DAY


def label_before(rule: ScheduleRule, start: dt.date) -> str:
    """The period label to treat as used when counting resumes on ``start``.

    ``state set-last-period-end`` needs it: the other system counted up to ``start - 1``,
    so the next run must be the first import day after that, under the first label this
    rule gives a window starting on ``start`` (31.12.2024 under last calendar day -> the
    31.01.2025 run counts 01.01–30.01 as 2025-01, so the label before it is 2024-12).
    """
    return format_period(add_months(_parse_label(next_run(rule, start, None).period), -1))
