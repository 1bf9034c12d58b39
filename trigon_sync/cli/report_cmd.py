"""``report``: the billing view of what was written to Uku, from the local ledger only.

Renders report.py's result: a table on a terminal, CSV for Excel/LibreOffice (UTF-8 with
BOM so Estonian letters survive, ``;`` between fields as an Estonian-locale spreadsheet
expects), JSON, or ``--chart``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from trigon_sync.cli import output
from trigon_sync.cli.params import period_value
from trigon_sync.config import AnomalySettings, load_config
from trigon_sync.errors import ConfigError, UsageError
from trigon_sync.report import Report, Row, build, history_start, period_range
from trigon_sync.store import ledger
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


def _firms(client: str | None, book: ledger.Ledger) -> set[str] | None:
    """The Trigon firm ids ``--client`` means: a linked client, or a code/id in the ledger."""
    if client is None:
        return None
    from trigon_sync.client_lookup import find_link  # only here: it imports the import plan

    link = find_link(load_state(), client)
    if link is not None:
        return {link.trigon_id}
    wanted = client.strip()
    found = {w.firm for w in book.writes.values() if wanted in (w.registration_code, w.firm)}
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
        "table", "--format", "-f", metavar="FORMAT", help="table, csv or json."
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
    settings = _settings()
    newest = ledger.newest_period()
    periods = period_range([newest] if newest else [], period or start, period or end)
    book = ledger.load(since=history_start(periods, settings))
    result = build(book, periods, settings, firms=_firms(client, book))
    if not result.rows:
        output.stderr.print(
            "Nothing written to Uku "
            + (f"for {_span(periods)}" if periods else "yet")
            + ": run-monthly records each client's counts here when it writes them.",
            markup=False,
            soft_wrap=True,
        )
    if chart:
        _chart(result, one_client=client is not None)
        return
    if fmt == "csv":
        _emit(to_csv(result, separator, totals=not no_totals), out, bom=True)
    elif fmt == "json":
        _emit(to_json(result), out, bom=False)
    else:
        _render_table(result)


def to_json(result: Report) -> str:
    """The JSON document, one row per line: thousands of rows stay quick to write and read
    (the C encoder; ``indent`` would fall back to the pure-Python one)."""
    doc = result.to_json()
    rows = doc.pop("rows")
    head = json.dumps(doc, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
    return f'{head}, "rows": [\n{body}\n]}}\n' if rows else f'{head}, "rows": []}}\n'


def _span(periods: Sequence[str]) -> str:
    return periods[0] if len(periods) == 1 else f"{periods[0]}–{periods[-1]}"


def _emit(text: str, out: Path | None, *, bom: bool) -> None:
    data = ((BOM if bom else "") + text).encode("utf-8")
    if out is None:
        typer.get_binary_stream("stdout").write(data)
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    output.stderr.print(f"Wrote {out}", markup=False)


def to_csv(result: Report, separator: str, *, totals: bool) -> str:
    """The spreadsheet: one row per client and period, the Uku field names as columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    columns = result.columns
    writer.writerow(["Period", "Client", "Registration code", *columns, "Flags"])
    for row in result.rows:
        write = row.write
        cells = ["" if n is None else n for n in result.cells(write)]
        flags = "; ".join(f.message for f in row.flags) if row.flags else ""
        writer.writerow([write.period, write.name, write.registration_code, *cells, flags])
    if totals:
        for period in result.periods:
            total = result.totals.get(period)
            if total is None:
                continue
            writer.writerow([period, "Total", "", *(total.get(c, 0) for c in columns), ""])
            change = result.changes.get(period)
            if change is not None:
                writer.writerow(
                    [
                        period,
                        "Change vs previous month",
                        "",
                        *(change.get(c, 0) for c in columns),
                        "",
                    ]
                )
    return buffer.getvalue()


def _signed(value: int | None) -> str:
    return "—" if value is None else f"{value:+d}"


def _flag_text(row: Row) -> str:
    return "; ".join(f.message for f in row.flags)


def _render_table(result: Report) -> None:
    """Office totals pivoted (fields down, months across), then one line per client and month."""
    if not result.rows:
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
    rows = sorted(result.rows, key=lambda r: not r.flags)[:TABLE_ROWS]
    for row in rows:
        change = None if row.change is None else sum(row.change.values())
        clients.add_row(
            row.period,
            row.name,
            row.registration_code,
            str(row.total),
            _signed(change),
            ("⚑ " + _flag_text(row)) if row.flags else "",
        )
    output.stdout.print(clients)
    if len(result.rows) > len(rows):
        output.stdout.print(
            f"(showing {len(rows)} of {len(result.rows)} rows, flagged first; "
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


def _chart(result: Report, *, one_client: bool) -> None:
    """Bars per month (the office, or the one --client), then a sparkline per client."""
    from rich.bar import Bar

    sums = {p: sum(result.totals.get(p, {}).values()) for p in result.periods}
    flagged = {r.period for r in result.flagged}
    who = result.rows[0].name if one_client and result.rows else "the office"
    top = max(sums.values(), default=0) or 1
    bars = Table(title=f"Counts written to Uku per month, {who}", title_justify="left")
    bars.add_column("Period", no_wrap=True)
    bars.add_column("", ratio=1, min_width=20)
    bars.add_column("Sum", justify="right")
    bars.add_column("", no_wrap=True, style="yellow")
    for period in result.periods:
        bars.add_row(
            period,
            Bar(top, 0, sums[period], color="yellow" if period in flagged else "cyan"),
            str(sums[period]),
            "⚑" if period in flagged else "",
        )
    output.stdout.print(bars)
    if one_client or not result.rows:
        return
    lines = Table(title="Per client", title_justify="left")
    lines.add_column("Client", overflow="fold", min_width=14)
    lines.add_column("Code", no_wrap=True)
    lines.add_column(f"{result.periods[0]}…{result.periods[-1]}", no_wrap=True)
    lines.add_column("Flags", overflow="fold", style="yellow")
    per_client: dict[str, dict[str, Row]] = {}
    for row in result.rows:
        per_client.setdefault(row.firm, {})[row.period] = row
    ordered = sorted(
        per_client.values(),
        key=lambda rows: (not any(r.flags for r in rows.values()), next(iter(rows.values())).name),
    )
    for rows in ordered[:TABLE_ROWS]:
        first = next(iter(rows.values()))
        spark = sparkline([rows[p].total if p in rows else 0 for p in result.periods])
        notes = "; ".join(f"{r.period}: {_flag_text(r)}" for r in rows.values() if r.flags)
        lines.add_row(first.name, first.registration_code, Text(spark, style="cyan"), notes)
    output.stdout.print(lines)


def register(app: Any) -> None:
    """Add the commands to the root app (one line each in cli/app.py)."""
    app.command("report", epilog=REPORT_EXAMPLE)(report_command)
