"""``report``: the billing view of what was written to Uku, from the local ledger only.

Renders billing/report.py's result: a table on a terminal, CSV for Excel/LibreOffice (UTF-8 with
BOM so Estonian letters survive, ``;`` between fields as an Estonian-locale spreadsheet
expects), JSON, or ``--chart``.
"""

from __future__ import annotations

import array
import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import typer
from rich.table import Table
from rich.text import Text

from trigon_sync.billing.late_tasks import Late, late_tasks
from trigon_sync.billing.report import (
    Report,
    Row,
    build,
    carry,
    history_start,
    period_range,
    report_columns,
    slice_ledger,
    slices,
)
from trigon_sync.cli import output
from trigon_sync.cli.csv_cells import csv_row
from trigon_sync.cli.params import period_value
from trigon_sync.dates import format_ee, format_ee_day
from trigon_sync.errors import ConfigError, UsageError
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.store import atomic, ledger, records_migration
from trigon_sync.store.config_file import load_config
from trigon_sync.store.ledger import Written
from trigon_sync.store.state import load_state

REPORT_EXAMPLE = (
    "Example: trigon-sync report --from 2024-10 --to 2024-12 --format csv -o counts.csv"
)
FORMATS = ("table", "csv", "json")
SEPARATORS = (";", ",")
TABLE_ROWS = 200
"""A terminal shows at most this many client rows; the file formats have them all."""
BOM = "\ufeff"
SPARKS = "▁▂▃▄▅▆▇█"


def _settings() -> AnomalySettings:
    try:
        return load_config().anomalies
    except ConfigError:
        return AnomalySettings()  # the report is still worth reading with default thresholds


def _firms(client: str | None, since: str | None) -> set[str] | None:
    """The Trigon firm ids ``--client`` means: a linked client, or a code/id in the ledger
    (its writes from ``since`` on)."""
    if client is None:
        return None
    from trigon_sync.clients.lookup import find_link  # only here: it imports the import plan

    link = find_link(load_state(), client)
    if link is not None:
        return {link.trigon_id}
    wanted = client.strip()
    found = ledger.firms_named(wanted, since)
    if not found:
        raise UsageError(
            f"no client matches {client!r} in the linked clients or the ledger",
            hint="give the registration code, the Trigon firm id or part of the name",
        )
    return found


def report_command(
    period: str | None = typer.Option(
        None, "--period", metavar="YYYY-MM", parser=period_value, help="Only this period."
    ),
    start: str | None = typer.Option(
        None, "--from", metavar="YYYY-MM", parser=period_value, help="First period of a range."
    ),
    end: str | None = typer.Option(
        None, "--to", metavar="YYYY-MM", parser=period_value, help="Last period of a range."
    ),
    client: str | None = typer.Option(
        None, "--client", metavar="CLIENT", help="Only this client (code, firm id or name)."
    ),
    fmt: str = typer.Option(
        "table", "--format", "-f", metavar="table|csv|json", help="The output format."
    ),
    separator: str = typer.Option(
        ";",
        "--separator",
        metavar="CHAR",
        help="CSV field separator: ';' (Estonian-locale Excel/LibreOffice) or ','.",
    ),
    no_totals: bool = typer.Option(
        False, "--no-totals", help="CSV: client rows only (for pivot tables)."
    ),
    chart: bool = typer.Option(
        False, "--chart", help="Draw the month-by-month counts (office, or --client) as bars."
    ),
    out: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", dir_okay=False, help="Write to FILE, not stdout."
    ),
) -> None:
    """The counts written to Uku per client and period, with totals, the change against
    the previous month and the anomaly flags. Reads local records only (no network).

    Without --period/--from/--to: the newest period written.
    Columns: the Uku field names the counts were written into.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if separator not in SEPARATORS:
        raise UsageError(f"--separator {separator!r} must be ';' or ','")
    if period is not None and (start is not None or end is not None):
        raise UsageError("--period cannot be combined with --from/--to", hint="use one of them")
    if chart and (fmt != "table" or out is not None):
        raise UsageError("--chart draws on the terminal; leave out --format and --output")
    if fmt == "table" and out is not None:
        raise UsageError("--output needs --format csv or json")
    # A home of an older version: ledger.jsonl moves into the database first.
    records_migration.ensure_migrated()
    settings = _settings()
    newest = ledger.newest_period()
    periods = period_range([newest] if newest else [], period or start, period or end)
    firms = _firms(client, history_start(periods, settings))
    parts = _parts(periods, settings, firms, late_tasks(load_state(), periods))
    if chart:
        gathered = _gather(parts, periods, chart=True)
        _nothing_warning(gathered.count, periods)
        _chart(gathered, one_client=client is not None)
        return
    if fmt == "table":
        gathered = _gather(parts, periods, chart=False)
        _nothing_warning(gathered.count, periods)
        _render_table(gathered)
        return
    with _sink(out) as sink:
        if fmt == "csv":
            count = write_csv(parts, sink, separator, totals=not no_totals)
        else:
            count = write_json(parts, sink, periods)
    _nothing_warning(count, periods)
    if out is not None:
        output.stderr.print(f"Wrote {out}", markup=False)


def _nothing_warning(count: int, periods: Sequence[str]) -> None:
    if count:
        return
    output.stderr.print(
        "Nothing written to Uku "
        + (f"for {_span(periods)}" if periods else "yet")
        + ": run-monthly records each client's counts here when it writes them.",
        markup=False,
        soft_wrap=True,
    )


def _parts(
    periods: Sequence[str],
    settings: AnomalySettings,
    firms: set[str] | None,
    late: Late | None = None,
) -> Iterator[Report]:
    """The report in slices of periods (one for a short range), built one at a time: a
    long range parses each ledger line once and holds one slice's writes, plus per client
    the newest periods a flag or a change of the next slice looks back at."""
    chunks = slices(periods)
    since = history_start(periods, settings)
    if len(chunks) <= 1:
        book = ledger.load(since=since, firms=firms)
        yield build(book, periods, settings, firms=firms, late=late)
        return
    columns = report_columns(ledger.mappings_used(since=periods[0], until=periods[-1], firms=firms))
    depth = settings.history_periods
    carried: list[Written] = []
    for index, chunk in enumerate(chunks):
        items = ledger.entries(since=since, until=chunk[-1], firms=firms)
        book = slice_ledger(items, chunk[0], depth, carried)
        carried = []
        yield build(book, chunk, settings, firms=firms, columns=columns, late=late)
        if index + 1 < len(chunks):
            since = chunks[index + 1][0]
            carried = carry(book, depth)
        del book


@contextlib.contextmanager
def _sink(out: Path | None) -> Iterator[BinaryIO]:
    """Where a file format goes: ``--output`` or stdout, as bytes."""
    if out is None:
        yield typer.get_binary_stream("stdout")
        return
    mode = _export_mode(out)
    try:
        # A file is replaced only once the whole report is written: a report that stops
        # half-way (a full disk, a bad ledger line) leaves the previous file as it was.
        # A device (``-o /dev/null``) is written as it is.
        special = out.exists() and not out.is_file()
        with out.open("wb") if special else atomic.replacing(out) as handle:
            yield handle
        if not special:
            out.chmod(mode)  # an export keeps the mode a plain write would give it
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None


def _export_mode(out: Path) -> int:
    """The mode an existing export has, or the one the umask gives a new file (the
    atomic writer's temp file is 0600, as suits the home, not a report to hand on)."""
    with contextlib.suppress(OSError):
        return out.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_json(parts: Iterable[Report], sink: BinaryIO, periods: Sequence[str]) -> int:
    """The JSON document, one row per line: thousands of rows stay quick to write and read
    (the C encoder; ``indent`` would fall back to the pure-Python one). Its head holds the
    totals, known only after the last row, so the rows wait in a temporary file."""
    count = flagged = 0
    columns: tuple[str, ...] = ()
    totals: list[dict[str, Any]] = []
    with tempfile.TemporaryFile("w+", encoding="utf-8") as rows:
        for part in parts:
            columns = part.columns
            for row in part.rows:
                rows.write(
                    (",\n" if count else "\n") + json.dumps(part.row_json(row), ensure_ascii=False)
                )
                count += 1
            totals += part.totals_json()
            flagged += len(part.flagged)
        head = {
            "command": "report",
            "periods": list(periods),
            "columns": list(columns),
            "totals": totals,
            "flagged": flagged,
        }
        sink.write((json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [').encode("utf-8"))
        rows.seek(0)
        while block := rows.read(1 << 16):
            sink.write(block.encode("utf-8"))
        sink.write(("\n]}\n" if count else "]}\n").encode("utf-8"))
    return count


def _span(periods: Sequence[str]) -> str:
    return periods[0] if len(periods) == 1 else f"{periods[0]}–{periods[-1]}"


class _SafeWriter:
    """A csv writer whose every row, header included, goes through csv_cells.csv_row:
    no text cell from Trigon or Uku can become a formula in the spreadsheet."""

    def __init__(self, buffer: io.StringIO, separator: str) -> None:
        self._writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow(csv_row(row))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def write_csv(parts: Iterable[Report], sink: BinaryIO, separator: str, *, totals: bool) -> int:
    """The spreadsheet: one row per client and period, the Uku field names as columns
    (UTF-8 with BOM), written slice by slice; the totals come after the rows. Text cells
    that a spreadsheet would run as a formula are neutralised (cli/csv_cells.py)."""
    buffer = io.StringIO()
    writer = _SafeWriter(buffer, separator)

    def flush() -> None:
        sink.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()

    buffer.write(BOM)
    count = 0
    columns: tuple[str, ...] | None = None
    sums: list[list[Any]] = []
    for part in parts:
        if columns is None:
            columns = part.columns
            writer.writerow(["Period", "Client", "Registration code", *columns, *LATE, "Flags"])
        for row in part.rows:
            write = row.write
            cells = ["" if n is None else n for n in part.cells(write)]
            flags = "; ".join(f.message for f in row.flags) if row.flags else ""
            writer.writerow(
                [write.period, write.name, write.registration_code, *cells, *_late(row), flags]
            )
            count += 1
        flush()
        for period in part.periods if totals else ():
            total = part.totals.get(period)
            if total is None:
                continue
            sums.append([period, "Total", "", *(total.get(c, 0) for c in columns), *NO_LATE, ""])
            change = part.changes.get(period)
            if change is not None:
                sums.append(
                    [
                        period,
                        "Change vs previous month",
                        "",
                        *(change.get(c, 0) for c in columns),
                        *NO_LATE,
                        "",
                    ]
                )
    if columns is None:
        writer.writerow(["Period", "Client", "Registration code", *LATE, "Flags"])
    writer.writerows(sums)
    flush()
    return count


LATE = ("Created late", "Import day", "Created on")
"""The CSV's columns before Flags (which stays last): a task made after its client had
owed the period is marked, with the date it carries in Uku (its period's import day) and
the day it was made."""
NO_LATE = ("", "", "")


def _late(row: Row) -> tuple[str, str, str]:
    late = row.late
    if late is None:
        return NO_LATE
    day = "" if late.import_day is None else format_ee(late.import_day)
    return ("yes", day, format_ee_day(late.created_on))


def _signed(value: int | None) -> str:
    return "—" if value is None else f"{value:+d}"


def _flag_text(row: Row) -> str:
    return "; ".join(f.message for f in row.flags)


@dataclass
class _Client:
    """One client's line in the chart: who, each month's sum, the flag notes."""

    name: str
    registration_code: str
    sums: array.array[int]
    notes: list[str] = field(default_factory=list)


@dataclass
class Gathered:
    """What the terminal views show of a report built slice by slice: the totals, the
    rows they list (flagged first, at most :data:`TABLE_ROWS`) and, for the chart, each
    client's monthly sums; never every row."""

    periods: tuple[str, ...]
    columns: tuple[str, ...] = ()
    totals: dict[str, Mapping[str, int]] = field(default_factory=dict)
    changes: dict[str, Mapping[str, int] | None] = field(default_factory=dict)
    count: int = 0
    flagged: list[Row] = field(default_factory=list)
    plain: list[Row] = field(default_factory=list)
    flagged_periods: set[str] = field(default_factory=set)
    clients: dict[str, _Client] = field(default_factory=dict)

    @property
    def shown(self) -> list[Row]:
        """The rows a table lists: flagged first, each group in report order."""
        return [*self.flagged, *self.plain][:TABLE_ROWS]


def _gather(parts: Iterable[Report], periods: Sequence[str], *, chart: bool) -> Gathered:
    gathered = Gathered(tuple(periods))
    where = {period: i for i, period in enumerate(periods)}
    for part in parts:
        gathered.columns = part.columns
        gathered.totals.update({p: part.totals[p] for p in part.periods if p in part.totals})
        gathered.changes.update({p: part.changes.get(p) for p in part.periods})
        for row in part.rows:
            gathered.count += 1
            if row.flags:
                gathered.flagged_periods.add(row.period)
                if len(gathered.flagged) < TABLE_ROWS:
                    gathered.flagged.append(row)
            elif len(gathered.plain) < TABLE_ROWS:
                gathered.plain.append(row)
            if chart:
                line = gathered.clients.get(row.firm)
                if line is None:
                    sums = array.array("q", bytes(8 * len(periods)))
                    line = _Client(row.name, row.registration_code, sums)
                    gathered.clients[row.firm] = line
                line.sums[where[row.period]] = row.total
                if row.flags:
                    line.notes.append(f"{row.period}: {_flag_text(row)}")
    return gathered


def _render_table(result: Gathered) -> None:
    """Office totals pivoted (fields down, months across), then one line per client and month."""
    if not result.count:
        return
    totals = Table(title="Totals written to Uku", title_justify="left")
    totals.add_column("Uku field", overflow="fold", min_width=12)
    shown = result.periods[-4:]  # keeps 80 columns; the file formats have every month
    for period in shown:
        totals.add_column(period, justify="right")
    totals.add_column(f"Δ {shown[-1]}", justify="right")
    last_change = result.changes.get(shown[-1])
    for column in result.columns:
        totals.add_row(
            column,
            *(str(result.totals.get(p, {}).get(column, 0)) for p in shown),
            _signed(None if last_change is None else last_change.get(column)),
        )
    output.stdout.print(totals)
    if len(result.periods) > len(shown):
        output.stdout.print(
            f"(showing the last {len(shown)} of {len(result.periods)} months; "
            "--format csv has them all)",
            markup=False,
        )
    clients = Table(title="Per client (sum of all fields)", title_justify="left")
    clients.add_column("Period", no_wrap=True)
    clients.add_column("Client", overflow="fold", min_width=14)
    clients.add_column("Code", no_wrap=True)
    clients.add_column("Sum", justify="right")
    clients.add_column("Δ", justify="right")
    clients.add_column("Flags", overflow="fold", style="yellow")
    rows = result.shown
    late = any(row.late is not None for row in rows)
    if late:  # a column only when a task was made late
        clients.add_column("Created late", overflow="fold", style="magenta")
    for row in rows:
        change = None if row.change is None else sum(row.change.values())
        cells = [
            row.period,
            row.name,
            row.registration_code,
            str(row.total),
            _signed(change),
            ("⚑ " + _flag_text(row)) if row.flags else "",
        ]
        if late:
            made = row.late
            cells.append("" if made is None else f"⏱ {made.text()}")  # both dates
        clients.add_row(*cells)
    output.stdout.print(clients)
    if late:
        output.stdout.print(
            "⏱ Created late: the client owed the period and its task was made on a later "
            "night; in Uku it carries the period's import day, so it bills in its own month "
            "(docs/operations.md, Owed periods).",
            markup=False,
        )
    if result.count > len(rows):
        output.stdout.print(
            f"(showing {len(rows)} of {result.count} rows, flagged first; "
            "--format csv has them all)",
            markup=False,
        )


def sparkline(values: Sequence[int]) -> str:
    """One character per month, scaled to the largest value (a zero month is a gap)."""
    top = max(values, default=0)
    if top <= 0:
        return " " * len(values)
    return "".join(
        " " if v <= 0 else SPARKS[min(len(SPARKS) - 1, (v * len(SPARKS) - 1) // top)]
        for v in values
    )


def _chart(result: Gathered, *, one_client: bool) -> None:
    """Bars per month (the office, or the one --client), then a sparkline per client."""
    from rich.bar import Bar
    from rich.console import RenderableType

    sums = {p: sum(result.totals.get(p, {}).values()) for p in result.periods}
    flagged = result.flagged_periods
    first = next(iter(result.clients.values()), None)
    who = first.name if one_client and first is not None else "the office"
    top = max(sums.values(), default=0) or 1
    bars = Table(title=f"Counts written to Uku per month, {who}", title_justify="left")
    bars.add_column("Period", no_wrap=True)
    bars.add_column("Counts", ratio=1, min_width=20)
    bars.add_column("Sum", justify="right")
    if flagged:  # a column only when a month has a flag to show in it
        bars.add_column("Flag", no_wrap=True, style="yellow")
    for period in result.periods:
        cells: list[RenderableType] = [
            period,
            Bar(top, 0, sums[period], color="yellow" if period in flagged else "cyan"),
            str(sums[period]),
        ]
        if flagged:
            cells.append("⚑" if period in flagged else "")
        bars.add_row(*cells)
    output.stdout.print(bars)
    if one_client or not result.count:
        return
    lines = Table(title="Per client", title_justify="left")
    lines.add_column("Client", overflow="fold", min_width=14)
    lines.add_column("Code", no_wrap=True)
    lines.add_column(f"{result.periods[0]}…{result.periods[-1]}", no_wrap=True)
    lines.add_column("Flags", overflow="fold", style="yellow")
    # the table's order: flagged first, then as the report sorts clients (by name, casefolded)
    ordered = sorted(result.clients.values(), key=lambda c: (not c.notes, c.name.casefold()))
    for client in ordered[:TABLE_ROWS]:
        spark = sparkline(client.sums)
        lines.add_row(
            client.name,
            client.registration_code,
            Text(spark, style="cyan"),
            "; ".join(client.notes),
        )
    output.stdout.print(lines)


def register(app: Any) -> None:
    """Add the commands to the root app (one line each in cli/app.py)."""
    app.command("report", epilog=REPORT_EXAMPLE)(report_command)
