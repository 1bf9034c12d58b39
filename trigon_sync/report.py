"""The billing report: per client and period, the counts Uku holds, from the ledger (pure).

The office invoices from these numbers in a spreadsheet, so a report is built around Uku's
field names as they were when each count was written (ledger.py records them), not around
today's mapping: a field renamed in March shows its old name for February. Columns are
those names in catalogue order; each row is one client and period; totals and the change
against the previous month are per column; every row carries its anomaly flags
(anomalies.py) judged against the client's earlier periods in the ledger.

:func:`build` takes the ledger and settings and returns a :class:`Report`; cli/report_cmd.py
renders it as a table, CSV or JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trigon_sync import anomalies, fields
from trigon_sync.config import AnomalySettings
from trigon_sync.dates import add_months, format_period, parse_period
from trigon_sync.errors import UsageError
from trigon_sync.ledger import Ledger, Written

_ORDER = {key: index for index, key in enumerate(fields.KEYS)}


def previous_period(period: str) -> str:
    return format_period(add_months(parse_period(period), -1))


@dataclass(frozen=True)
class Row:
    """One client in one period: the counts under their Uku field names."""

    period: str
    firm: str
    name: str
    registration_code: str
    task: int
    values: Mapping[str, int]
    """Uku field name -> count."""
    change: Mapping[str, int] | None
    """Uku field name -> count minus the client's previous month (None: no previous month)."""
    flags: tuple[anomalies.Flag, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.values.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "trigon_id": self.firm,
            "name": self.name,
            "registration_code": self.registration_code,
            "task_id": self.task,
            "counts": dict(self.values),
            "change": None if self.change is None else dict(self.change),
            "flags": [flag.to_json() for flag in self.flags],
        }


@dataclass(frozen=True)
class Report:
    """The rows of a range of periods, with per-period totals and changes per column."""

    periods: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    totals: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """period -> Uku field name -> the sum over clients."""
    changes: Mapping[str, Mapping[str, int] | None] = field(default_factory=dict)
    """period -> Uku field name -> total minus the previous month's (None: no such month)."""

    @property
    def flagged(self) -> list[Row]:
        return [row for row in self.rows if row.flags]

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "report",
            "periods": list(self.periods),
            "columns": list(self.columns),
            "rows": [row.to_json() for row in self.rows],
            "totals": [
                {
                    "period": period,
                    "counts": dict(self.totals.get(period, {})),
                    "change": None
                    if self.changes.get(period) is None
                    else dict(self.changes[period] or {}),
                }
                for period in self.periods
            ],
            "flagged": len(self.flagged),
        }


def period_range(
    ledger_periods: Sequence[str], start: str | None, end: str | None
) -> tuple[str, ...]:
    """Every month label from ``start`` to ``end`` (defaults: the newest period written)."""
    newest = ledger_periods[-1] if ledger_periods else None
    if end is None:
        end = newest if start is None or (newest is not None and newest >= start) else start
    start = start or end
    if start is None or end is None:
        return ()
    if start > end:
        raise UsageError(
            f"--from {start} is after --to {end}", hint="give the earlier month with --from"
        )
    found: list[str] = []
    period = start
    while period <= end:
        found.append(period)
        period = format_period(add_months(parse_period(period), 1))
    return tuple(found)


def _values(write: Written) -> dict[str, int]:
    return {write.names[key]: count for key, count in write.counts.items()}


def _change(now: Mapping[str, int], before: Mapping[str, int] | None) -> dict[str, int] | None:
    if before is None:
        return None
    return {name: count - before.get(name, 0) for name, count in now.items()}


def build(
    ledger: Ledger,
    periods: Sequence[str],
    settings: AnomalySettings,
    *,
    firms: set[str] | None = None,
) -> Report:
    """The report over ``periods`` (ascending), for every client or only ``firms``."""
    wanted = set(periods)
    rows: list[Row] = []
    order: dict[str, tuple[int, int]] = {}
    for firm, written in ledger.by_firm().items():
        if firms is not None and firm not in firms:
            continue
        history: list[Mapping[str, int]] = []
        for period, write in written.items():
            if period in wanted:
                values = _values(write)
                before = written.get(previous_period(period))
                labels = write.names
                rows.append(
                    Row(
                        period=period,
                        firm=firm,
                        name=write.name,
                        registration_code=write.registration_code,
                        task=write.task,
                        values=values,
                        change=_change(values, _values(before) if before else None),
                        flags=anomalies.check(write.counts, history, settings, labels),
                    )
                )
                for key, name in write.names.items():
                    order.setdefault(name, (_ORDER.get(key, len(_ORDER)), len(order)))
            history.append(write.counts)
    rows.sort(key=lambda r: (r.period, r.name.casefold(), r.firm))
    columns = tuple(sorted(order, key=lambda name: order[name]))
    totals = _totals(ledger, set(periods) | {previous_period(p) for p in periods}, firms)
    changes = {
        period: _change(totals[period], totals.get(previous_period(period)))
        if period in totals
        else None
        for period in periods
    }
    return Report(tuple(periods), columns, tuple(rows), totals, changes)


def _totals(ledger: Ledger, periods: set[str], firms: set[str] | None) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for (firm, period), write in ledger.writes.items():
        if period not in periods or (firms is not None and firm not in firms):
            continue
        into = totals.setdefault(period, {})
        for key, count in write.counts.items():
            name = write.names[key]
            into[name] = into.get(name, 0) + count
    return totals
