"""Dates and period labels as people type them."""

from __future__ import annotations

import datetime as dt

import pytest

from trigon_sync.dates import add_months, format_ee, format_period, parse_date, parse_period
from trigon_sync.errors import UsageError


@pytest.mark.parametrize("text", ["2024-10-01", "01.10.2024", "1.10.2024", " 2024-10-01 "])
def test_parse_date_accepts_iso_and_estonian(text: str) -> None:
    """Both the ISO and the Estonian spelling of 1 October 2024 give the same date."""
    assert parse_date(text) == dt.date(2024, 10, 1)


def test_parse_date_explains_an_impossible_day() -> None:
    """31.02.2024 is refused with the real length of that February."""
    with pytest.raises(UsageError, match=r"February 2024 has 29 days"):
        parse_date("31.02.2024")


@pytest.mark.parametrize("text", ["2024-13-01", "tomorrow", "2024/10/01", "10.2024", ""])
def test_parse_date_refuses_non_dates(text: str) -> None:
    """Anything that is not a real ISO or Estonian date is a usage error."""
    with pytest.raises(UsageError, match="not a date"):
        parse_date(text)


def test_format_ee_is_day_month_year() -> None:
    """Estonian display puts the day first with leading zeros."""
    assert format_ee(dt.date(2024, 11, 9)) == "09.11.2024"


def test_period_round_trip_and_validation() -> None:
    """A YYYY-MM label parses to (year, month) and back; month 13 is refused."""
    assert parse_period("2024-11") == (2024, 11)
    assert format_period((2024, 1)) == "2024-01"
    with pytest.raises(UsageError):
        parse_period("2024-13")
    with pytest.raises(UsageError):
        parse_period("2024-1")


def test_add_months_crosses_years() -> None:
    """Month arithmetic wraps at year ends in both directions."""
    assert add_months((2024, 12), 1) == (2025, 1)
    assert add_months((2025, 1), -1) == (2024, 12)
    assert add_months((2024, 5), 24) == (2026, 5)
