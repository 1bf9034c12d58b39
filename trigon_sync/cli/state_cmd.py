"""``trigon-sync state``: look at state.toml and, for support staff, move the window.

``set-last-period-end`` is for a firm moving over from another integration: counting
must resume the day after the old system's last counted day, under the next unused
period label. It is recorded in the run history like any other change.
"""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.params import date_value, period_value
from trigon_sync.dates import format_ee, format_ee_time
from trigon_sync.errors import BusyError, UsageError
from trigon_sync.records.periods import run_in_progress
from trigon_sync.schedule.run_text import next_import_sentence
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config
from trigon_sync.store.state import State, load_state, locked_state
from trigon_sync.timeline.marker import plan_marker_move

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
                format_ee_time(entry.at),
                entry.command,
                entry.result,
            )
        console.print(table)


def _unfinished(state: State) -> str:
    """A period a run started and left partial (not a process running now: that is the lock)."""
    if not run_in_progress(state):
        return "none"
    period = state.journal.open_label
    return f"{period}; the next `trigon-sync run-monthly` resumes it"


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
        help="Label of the last period already used (default: the one before the period "
        "the schedule gives a window starting DATE + 1).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Set the last day already counted elsewhere; the next run counts from the day after.

    The next run is the first import day after DATE, under the first period label the
    schedule gives that window, so no month is left without a task. Moving DATE back
    over periods run-monthly finished is refused (use `run-monthly --rerun PERIOD`).
    """
    today = clock.today()
    config = load_config()
    before = load_state()
    move = plan_marker_move(config, before, day, period, today)
    question = (
        f"Change last period end {_date_or_dash(before.last_period_end)} -> {format_ee(day)} "
        f"and last period {before.last_period or '—'} -> {move.period}?"
    )
    if move.next is not None:
        question += f" Then the {next_import_sentence(move.next)}."
    if not output.confirm(question, yes):
        raise UsageError("cancelled; nothing was changed")
    with locked_state() as session:
        state = session.state
        if not _same_window(state, before) or run_in_progress(state):
            raise BusyError(
                "state.toml changed while waiting for confirmation",
                hint="nothing was changed; run the command again",
            )
        plan_marker_move(config, state, day, move.period, today)  # finished since?
        state.record(
            clock.now(),
            "state set-last-period-end",
            "ok",
            last_period_end=day,
            last_period=move.period,
            previous_last_period_end=before.last_period_end,
            previous_last_period=before.last_period,
        )
        state.complete_window(day, move.period)
        session.save()
    output.stdout.print(f"Last period end set to {format_ee(day)} (period {move.period}).")
