"""The billing report: per client and period, the counts Uku holds, from the ledger (pure).

The office invoices from these numbers in a spreadsheet, so a report is built around Uku's
field names as they were when each count was written (ledger.py records them), not around
today's mapping: a field renamed in March shows its old name for February. Columns are
those names in catalogue order; each row is one client and period; totals and the change
against the previous month are per column; every row carries its anomaly flags
(billing/anomalies.py) judged against the client's earlier periods in the ledger.

:func:`build` takes the ledger and settings and returns a :class:`Report`; cli/report_cmd.py
renders it as a table, CSV or JSON.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trigon_sync.billing import anomalies
from trigon_sync.billing.late_tasks import Late, LateTask
from trigon_sync.dates import add_months, format_period, parse_period
from trigon_sync.errors import UsageError
from trigon_sync.settings import fields
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.store.ledger import Accepted, FieldsLine, Ledger, Written

_ORDER = {key: index for index, key in enumerate(fields.KEYS)}


@functools.lru_cache(maxsize=1024)
def previous_period(period: str) -> str:
    """``2024-01`` -> ``2023-12`` (cached: a report asks for the same few months 100,000 times)."""
    return format_period(add_months(parse_period(period), -1))


@dataclass(frozen=True, slots=True)
class Row:
    """One client in one period: the counts under their Uku field names."""

    write: Written
    previous: Written | None
    """The client's write of the month before (for the change), if there is one."""
    flags: tuple[anomalies.Flag, ...] = ()
    late: LateTask | None = None
    """Set when the task was made after the client had owed the period (late_tasks.py)."""

    @property
    def period(self) -> str:
        return self.write.period

    @property
    def firm(self) -> str:
        return self.write.firm

    @property
    def name(self) -> str:
        return self.write.name

    @property
    def registration_code(self) -> str:
        return self.write.registration_code

    @property
    def values(self) -> dict[str, int]:
        """Uku field name -> count."""
        return _values(self.write)

    @property
    def total(self) -> int:
        return sum(self.write.values)

    @property
    def change(self) -> dict[str, int] | None:
        """Uku field name -> count minus the previous month's (None: no previous month)."""
        previous = self.previous
        if previous is None:
            return None
        write = self.write
        if previous.keys is write.keys:  # one mapping: subtract the tuples
            return dict(
                zip(write.columns, map(operator.sub, write.values, previous.values), strict=True)
            )
        return _change(self.values, _values(previous))

    def summary_json(self) -> dict[str, Any]:
        """Who and why, without the counts (``status --json`` lists flagged clients so)."""
        write = self.write
        return {
            "period": write.period,
            "trigon_id": write.firm,
            "name": write.name,
            "registration_code": write.registration_code,
            "task_id": write.task,
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

    _plans: dict[int, list[int] | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def flagged(self) -> list[Row]:
        return [row for row in self.rows if row.flags]

    def _plan(self, write: Written) -> list[int] | None:
        """Where each of ``write``'s counts goes among :attr:`columns`; None when they are the
        columns in order (the usual case: one mapping for the whole report)."""
        key = id(write.keys)  # one plan per mapping (the rows keep the keys tuple alive)
        if key not in self._plans:
            where = {name: i for i, name in enumerate(self.columns)}
            plan = [where[name] for name in write.columns]
            self._plans[key] = None if plan == list(range(len(self.columns))) else plan
        return self._plans[key]

    def cells(self, write: Written) -> list[int | None]:
        """The counts of ``write`` aligned to :attr:`columns` (None: not written then)."""
        plan = self._plan(write)
        if plan is None:
            return list(write.values)
        cells: list[int | None] = [None] * len(self.columns)
        for at, count in zip(plan, write.values, strict=True):
            cells[at] = count
        return cells

    def row_json(self, row: Row) -> dict[str, Any]:
        """One row for ``--format json``: counts and change as arrays in column order."""
        write, previous = row.write, row.previous
        counts = self.cells(write)
        change: list[int | None] | None = None
        if previous is not None and previous.keys is write.keys and self._plan(write) is None:
            change = list(map(operator.sub, write.values, previous.values))
        elif previous is not None:
            same = previous.keys is write.keys
            before = self.cells(previous) if same else self._aligned(previous)
            change = [
                None if now is None else now - (then or 0)
                for now, then in zip(counts, before, strict=True)
            ]
        return {
            "period": write.period,
            "trigon_id": write.firm,
            "name": write.name,
            "registration_code": write.registration_code,
            "task_id": write.task,
            "flags": [flag.to_json() for flag in row.flags] if row.flags else [],
            "counts": counts,
            "change": change,
            "late": None if row.late is None else row.late.to_json(),
        }

    def _aligned(self, write: Written) -> list[int]:
        """A previous month's counts by this report's columns (0 where it had no such field)."""
        values = dict(zip(write.columns, write.values, strict=True))
        return [values.get(name, 0) for name in self.columns]

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "report",
            "periods": list(self.periods),
            "columns": list(self.columns),
            "rows": [self.row_json(row) for row in self.rows],
            "totals": self.totals_json(),
            "flagged": len(self.flagged),
        }

    def totals_json(self) -> list[dict[str, Any]]:
        """Per period: the column sums and their change against the previous month."""
        return [
            {
                "period": period,
                "counts": dict(self.totals.get(period, {})),
                "change": None
                if self.changes.get(period) is None
                else dict(self.changes[period] or {}),
            }
            for period in self.periods
        ]


def history_start(periods: Sequence[str], settings: AnomalySettings) -> str | None:
    """The earliest period a report over ``periods`` needs from the ledger: its flags look
    back ``history_periods`` writes, and its first change one month (a gap of months
    without writes is looked over, within twice the history)."""
    if not periods:
        return None
    back = parse_period(periods[0])
    return format_period(add_months(back, -(2 * settings.history_periods + 1)))


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
    return dict(zip(write.columns, write.values, strict=True))


def _change(now: Mapping[str, int], before: Mapping[str, int] | None) -> dict[str, int] | None:
    if before is None:
        return None
    return {name: count - before.get(name, 0) for name, count in now.items()}


def _series(writes: Sequence[Written]) -> tuple[Sequence[str], Sequence[Sequence[int | None]]]:
    """One client's writes as rows aligned to one key list (None where a field was unmapped)."""
    first = writes[0].keys
    if all(w.keys is first for w in writes):
        return first, [w.values for w in writes]
    keys = sorted({k for w in writes for k in w.keys}, key=lambda k: _ORDER.get(k, len(_ORDER)))
    rows = []
    for w in writes:
        counts = dict(zip(w.keys, w.values, strict=True))
        rows.append([counts.get(k) for k in keys])
    return keys, rows


def build(
    ledger: Ledger,
    periods: Sequence[str],
    settings: AnomalySettings,
    *,
    firms: set[str] | None = None,
    columns: Sequence[str] | None = None,
    late: Late | None = None,
) -> Report:
    """The report over ``periods`` (ascending), for every client or only ``firms``;
    ``columns``: align to these (a slice of a longer report, see :func:`slices`);
    ``late``: the tasks made late (late_tasks.py), marked on their rows."""
    wanted = set(periods)
    before = {previous_period(p): p for p in periods}
    buckets: dict[str, list[Row]] = {period: [] for period in periods}
    found: dict[str, tuple[int, int]] = {}
    mappings: dict[int, Mapping[str, str]] = {}
    grouped = ledger.by_firm()
    order = sorted(grouped, key=lambda firm: (grouped[firm][-1].name.casefold(), firm))
    for firm in order:
        writes = grouped[firm]
        if firms is not None and firm not in firms:
            continue
        chosen = [i for i, w in enumerate(writes) if w.period in wanted]
        if not chosen:
            continue
        keys, series = _series(writes)
        flags = anomalies.flag_series(keys, series, settings, writes[0].names, start=chosen[0])
        by_period = {w.period: w for w in writes}
        for i in chosen:
            write = writes[i]
            if id(write.keys) not in mappings:
                mappings[id(write.keys)] = write.names
            previous = by_period.get(previous_period(write.period)) if before else None
            made_late = late.get((firm, write.period)) if late else None
            buckets[write.period].append(Row(write, previous, flags[i], made_late))
    for names in mappings.values():
        for key, name in names.items():
            found.setdefault(name, (_ORDER.get(key, len(_ORDER)), len(found)))
    rows = [row for period in periods for row in buckets[period]]  # by period, then name
    ordered = (
        tuple(sorted(found, key=lambda name: found[name])) if columns is None else tuple(columns)
    )
    totals = _totals(ledger, wanted | set(before), firms)
    changes = {
        period: _change(totals[period], totals.get(previous_period(period)))
        if period in totals
        else None
        for period in periods
    }
    return Report(tuple(periods), ordered, tuple(rows), totals, changes)


def _totals(ledger: Ledger, periods: set[str], firms: set[str] | None) -> dict[str, dict[str, int]]:
    """period -> Uku field name -> sum: column sums over the count tuples of each mapping."""
    groups: dict[tuple[str, int], list[Written]] = {}
    for write in ledger.writes.values():
        if write.period in periods and (firms is None or write.firm in firms):
            groups.setdefault((write.period, id(write.keys)), []).append(write)
    totals: dict[str, dict[str, int]] = {}
    for (period, _), writes in groups.items():
        into = totals.setdefault(period, {})
        names = writes[0].columns
        for name, column in zip(names, zip(*(w.values for w in writes), strict=True), strict=True):
            into[name] = into.get(name, 0) + sum(column)
    return totals


SLICE_PERIODS = 4
"""Periods a long report builds at a time. Each slice reads the ledger lines of its own
periods, and memory holds one slice's writes plus, per client, the newest periods the next
slice's flags and changes look back at (benchmarks/memory_bench.py: five years at 5,000
clients)."""


def slices(periods: Sequence[str], size: int | None = None) -> list[tuple[str, ...]]:
    """``periods`` in consecutive runs of at most ``size`` (default :data:`SLICE_PERIODS`)."""
    step = max(size or SLICE_PERIODS, 1)
    return [tuple(periods[i : i + step]) for i in range(0, len(periods), step)]


def slice_ledger(
    items: Iterable[Written | Accepted | FieldsLine],
    start: str,
    depth: int,
    carried: Iterable[Written] = (),
) -> Ledger:
    """What a slice from ``start`` needs of the ledger lines ``items``: every write from
    ``start`` on, and per firm only its newest ``depth`` periods before (all a flag or a
    change can look at; see :func:`anomalies.flag_series`). ``carried``: such writes
    before ``start`` already kept (:func:`carry`), taken as they are."""
    ledger = Ledger()
    writes = ledger.writes
    before: dict[str, list[str]] = {}
    for write in carried:
        writes[(write.firm, write.period)] = write
        before.setdefault(write.firm, []).append(write.period)
    for item in items:
        if isinstance(item, Written):
            writes[(item.firm, item.period)] = item  # a later line is newer
            if item.period < start:
                older = before.setdefault(item.firm, [])
                if item.period not in older:
                    older.append(item.period)
                    if len(older) > depth:
                        oldest = min(older)
                        older.remove(oldest)
                        del writes[(item.firm, oldest)]
        elif isinstance(item, Accepted):
            ledger.accepted.add((item.firm, item.period))
        else:
            ledger.field_ids.add(item.id)
    return ledger


def carry(ledger: Ledger, depth: int) -> list[Written]:
    """Per firm, its newest ``depth`` writes in ``ledger``: what the next slice needs of
    this one's."""
    by_firm = ledger.by_firm()  # oldest period first
    return [write for writes in by_firm.values() for write in writes[-depth:]]


def report_columns(mappings: Iterable[tuple[Sequence[str], Sequence[str]]]) -> tuple[str, ...]:
    """The columns of a report whose rows used ``mappings`` ((keys, Uku field names), the
    first used earliest first: ``ledger.mappings_used``): the names in catalogue order, a
    renamed field's older name first."""
    found: dict[str, tuple[int, int]] = {}
    for keys, names in mappings:
        for key, name in zip(keys, names, strict=True):
            found.setdefault(name, (_ORDER.get(key, len(_ORDER)), len(found)))
    return tuple(sorted(found, key=lambda name: found[name]))
