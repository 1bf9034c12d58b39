"""Option parsers shared by commands: dates in ISO or Estonian form, period labels.

Bad values become ordinary usage errors (exit 2) that name the option, like any other
option Typer rejects.
"""

from __future__ import annotations

import datetime as dt

import typer

from trigon_sync.dates import format_period, parse_date, parse_period
from trigon_sync.errors import UsageError


def date_value(text: str | dt.date) -> dt.date:
    """Typer ``parser=`` for dates: ``2024-10-01`` or ``01.10.2024``."""
    if isinstance(text, dt.date):
        return text
    try:
        return parse_date(text)
    except UsageError as exc:
        raise typer.BadParameter(str(exc)) from None


def period_value(text: str) -> str:
    """Typer ``parser=`` for ``YYYY-MM`` period labels (returned normalised)."""
    try:
        return format_period(parse_period(text))
    except UsageError as exc:
        raise typer.BadParameter(str(exc)) from None


def rerun_value(text: str) -> str:
    """Typer ``parser=`` for ``--rerun``: one period ``YYYY-MM`` or a range ``FROM..TO``
    (each end normalised, so ``11.2024`` is 2024-11)."""
    first, sep, last = text.partition("..")
    if not sep:
        return period_value(text)
    return f"{period_value(first)}..{period_value(last)}"
