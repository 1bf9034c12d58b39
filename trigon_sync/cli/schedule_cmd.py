"""``trigon-sync schedule``: the next import days and the windows they will count.

Read-only: it lets an admin check a schedule change before the next cron night, and
shows which runs are already due (a missed night is caught up on the next run).
``--cron`` / ``--systemd`` print the nightly job itself, ready for this home, user and
installation (cli/setup_files.py); they need no settings yet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.params import date_value
from trigon_sync.dates import format_ee
from trigon_sync.errors import UsageError
from trigon_sync.monthly.gate import schedule_for
from trigon_sync.schedule.rules import Run
from trigon_sync.schedule.run_text import run_json, window_text
from trigon_sync.settings.config import require_schedule
from trigon_sync.store.config_file import load_config
from trigon_sync.store.state import load_state

EXAMPLE = (
    "Example: trigon-sync schedule --today 29.11.2024 --count 6 --json\n\n"
    "The nightly job: trigon-sync --home /srv/trigon-sync schedule --systemd "
    "--output-dir /tmp/units"
)


def _run_json(run: Run, today: dt.date) -> dict[str, Any]:
    return {**run_json(run), "due": run.import_day <= today}


def schedule(
    today: dt.date | None = typer.Option(
        None,
        "--today",
        metavar="DATE",
        parser=date_value,
        help="Pretend today is DATE (2024-11-29 or 29.11.2024); decides which runs are due.",
    ),
    count: int = typer.Option(3, "--count", "-n", min=1, max=120, help="How many runs to show."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
    cron: bool = typer.Option(
        False, "--cron", help="Print the crontab lines of the nightly run for this home."
    ),
    systemd: bool = typer.Option(
        False,
        "--systemd",
        help="Print the systemd service and timer of the nightly run for this home and user.",
    ),
    output_dir: Path | None = typer.Option(
        None,
        "--output-dir",
        metavar="DIR",
        help="With --systemd: write trigon-sync.service and trigon-sync.timer into DIR.",
    ),
) -> None:
    """Show the next import days and the date window each one counts."""
    if cron or systemd or output_dir is not None:
        _nightly_job(cron=cron, systemd=systemd, output_dir=output_dir, as_json=as_json)
        return
    config = load_config()
    rule, first_import_date = require_schedule(config)
    state = load_state()
    today = today or clock.today()
    line = schedule_for(config, state, today)
    runs = line.runs(count)
    if as_json:
        output.print_json(
            {
                "last_period_end": state.last_period_end,
                "last_period": state.last_period,
                "runs": [_run_json(run, today) for run in runs],
            }
        )
        return
    console = output.stdout
    console.print(f"Schedule: {rule.describe()}; first import date {format_ee(first_import_date)}")
    if state.last_period_end is None:
        console.print(f"No run yet: counting starts on {format_ee(first_import_date)}.")
    else:
        period = f" (period {state.last_period})" if state.last_period else ""
        console.print(f"Counted up to {format_ee(state.last_period_end)}{period}.")
    if line.open is not None:
        console.print(
            f"Period {line.open.period} was started and is not finished: run-monthly resumes "
            f"its own window {window_text(line.open)} first, whatever the schedule says now.",
            markup=False,
        )
    table = Table("Import day", "Counts from", "Counts to", "Period", "Due")
    for run in runs:
        table.add_row(
            f"{run.import_day:%a} {format_ee(run.import_day)}",
            format_ee(run.window_start),
            format_ee(run.window_end),
            run.period,
            "due" if run.import_day <= today else "",
        )
    console.print(table)
    due = len(line.due)  # all of them, not only the ones shown
    if due:
        shown = sum(run.import_day <= today for run in runs)
        more = f" (the first {shown} shown; --count {due} lists them all)" if shown < due else ""
        console.print(
            f"{due} run(s) due as of {format_ee(today)}{more}; they run oldest first.",
            markup=False,
        )


def _nightly_job(*, cron: bool, systemd: bool, output_dir: Path | None, as_json: bool) -> None:
    """``--cron`` or ``--systemd``: the job that runs ``run-monthly --quiet`` every night."""
    from trigon_sync.cli import setup_files
    from trigon_sync.store import paths

    if cron == systemd or as_json or (output_dir is not None and not systemd):
        raise UsageError(
            "give one of --cron or --systemd (--output-dir only with --systemd, no --json)"
        )
    home = paths.home_dir().absolute()
    command = setup_files.install_command()
    if cron:
        typer.echo(setup_files.cron_entry(home, command), nl=False)
        return
    units = setup_files.render_units(home, command, setup_files.current_user())
    if output_dir is None:
        for name, text in units.items():
            typer.echo(f"# {setup_files.UNIT_DIR}/{name}\n{text}")
        return
    targets = {output_dir / name: text for name, text in units.items()}
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise UsageError(
            f"{', '.join(existing)} already exist(s); nothing was written",
            hint="remove them first, or choose another --output-dir",
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {path}")
    typer.echo(
        f"install: sudo cp {' '.join(str(p) for p in targets)} {setup_files.UNIT_DIR}/ && "
        "sudo systemctl daemon-reload && sudo systemctl enable --now trigon-sync.timer"
    )
