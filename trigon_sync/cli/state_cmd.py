"""``trigon-sync state``: look at state.toml and, for support staff, move the window.

``set-last-period-end`` is for a firm moving over from another integration: counting
must resume the day after the old system's last counted day, under the next unused
period label. It is recorded in the run history like any other change.
"""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from trigon_sync import clock, paths
from trigon_sync.cli import output
from trigon_sync.cli.params import date_value, period_value
from trigon_sync.config import load_config
from trigon_sync.dates import format_ee
from trigon_sync.errors import BusyError, UsageError
from trigon_sync.journal import run_in_progress
from trigon_sync.schedule import next_run, period_of
from trigon_sync.state import State, load_state, locked_state

app = typer.Typer(
    help="Inspect or adjust state.toml (what has been counted, links, history).",
    no_args_is_help=True,
    epilog="Example: trigon-sync state show --json",
)

SHOWN_HISTORY = 5


def _date_or_dash(day: dt.date | None) -> str:
    return format_ee(day) if day else "—"


@app.command("show", epilog="Example: trigon-sync state show --json")
def show(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Show what has been counted, linked clients, work in progress and recent runs."""
    state = load_state()
    if as_json:
        output.print_json(state.to_json())
        return
    console = output.stdout
    console.print(f"State file: {paths.state_file()} (schema {state.schema_version})")
    console.print(f"Last period end: {_date_or_dash(state.last_period_end)}")
    console.print(f"Last period: {state.last_period or '—'}")
    console.print(f"Linked clients: {len(state.links)}")
    console.print(f"Staged client import: {'yes' if state.staged_import else 'no'}")
    console.print(f"Unfinished period: {_unfinished(state)}", markup=False)
    if state.history:
        table = Table("At", "Command", "Result", title="Recent runs (newest first)")
        for entry in reversed(state.history[-SHOWN_HISTORY:]):
            table.add_row(
                _when(entry.get("at", "")),
                str(entry.get("command", "")),
                str(entry.get("result", "")),
            )
        console.print(table)


def _unfinished(state: State) -> str:
    """A period a run started and left partial (not a process running now: that is the lock)."""
    if not run_in_progress(state):
        return "none"
    period = state.journal.get("period")
    return f"{period}; the next `trigon-sync run-monthly` resumes it"


def _when(at: object) -> str:
    """The run's ISO timestamp as ``history`` shows it: ``30.11.2024 00:30``."""
    try:
        return dt.datetime.fromisoformat(str(at)).strftime("%d.%m.%Y %H:%M")
    except ValueError:
        return str(at)


def _same_window(a: State, b: State) -> bool:
    return (a.last_period_end, a.last_period) == (b.last_period_end, b.last_period)


@app.command(
    "set-last-period-end",
    epilog="Example: trigon-sync state set-last-period-end 30.10.2024 --period 2024-10 --yes",
)
def set_last_period_end(
    day: dt.date = typer.Argument(
        ...,
        metavar="DATE",
        parser=date_value,
        help="Last day already counted elsewhere (2024-10-30 or 30.10.2024).",
    ),
    period: str | None = typer.Option(
        None,
        "--period",
        metavar="YYYY-MM",
        parser=period_value,
        help="Label of the last period already used (default: the period of a run on "
        "DATE + 1 under the configured schedule).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Set the last counted day (and period label) so the next window starts after it."""
    today = clock.today()
    if day >= today:
        raise UsageError(
            f"the last period end must be before today ({format_ee(today)}), not {format_ee(day)}",
            hint="a window can only end on a day that is already over",
        )
    rule = load_config().summary.schedule
    if period is None:
        if rule is None:
            raise UsageError(
                "cannot work out the period label: no schedule in config.toml",
                hint="pass --period YYYY-MM or set summary.schedule first",
            )
        period = period_of(rule, day + dt.timedelta(days=1))
    before = load_state()
    if run_in_progress(before):
        raise UsageError(
            "a monthly run is in progress (its journal is not empty)",
            hint="let it finish before moving the window",
        )
    question = (
        f"Change last period end {_date_or_dash(before.last_period_end)} -> {format_ee(day)} "
        f"and last period {before.last_period or '—'} -> {period}?"
    )
    if rule is not None:
        nxt = next_run(rule, day + dt.timedelta(days=1), period)
        question += (
            f" The next run would be on {format_ee(nxt.import_day)}, counting "
            f"{format_ee(nxt.window_start)}–{format_ee(nxt.window_end)} (period {nxt.period})."
        )
    if not output.confirm(question, yes):
        raise UsageError("cancelled; nothing was changed")
    with locked_state() as session:
        state = session.state
        if not _same_window(state, before) or run_in_progress(state):
            raise BusyError(
                "state.toml changed while waiting for confirmation",
                hint="nothing was changed; run the command again",
            )
        state.record(
            clock.now(),
            "state set-last-period-end",
            "ok",
            last_period_end=day,
            last_period=period,
            previous_last_period_end=before.last_period_end,
            previous_last_period=before.last_period,
        )
        state.complete_window(day, period)
        session.save()
    output.stdout.print(f"Last period end set to {format_ee(day)} (period {period}).")
