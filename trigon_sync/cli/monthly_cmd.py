"""``trigon-sync run-monthly``: the nightly cron job that writes the counts Uku bills from.

Almost every night nothing is due: the command reads two small TOML files, prints one
line (nothing with ``--quiet``) and exits 0 without touching the network or importing
the HTTP stack. On an import day it takes the state lock, builds both API clients and
hands over to :mod:`trigon_sync.monthly`; this module only renders what came back.
Every invocation leaves one line in ``<home>/logs/trigon-sync.log`` (never a secret).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import clock, paths
from trigon_sync.cli.params import date_value, period_value
from trigon_sync.config import Config, load_config
from trigon_sync.errors import TrigonSyncError
from trigon_sync.monthly_plan import (
    DONE_EARLIER,
    check_today,
    require_ready,
    rerun_target,
    schedule_for,
)
from trigon_sync.schedule import Run
from trigon_sync.state import load_state

if TYPE_CHECKING:
    from trigon_sync.monthly import MonthlyResult

EXAMPLE = (
    "Example (cron, 00:30 Tallinn): trigon-sync run-monthly --quiet\n\n"
    "Replay a missed night: trigon-sync run-monthly --today 29.11.2024 --dry-run"
)
LOG_NAME = "trigon-sync.log"
RETRY_ATTEMPTS = 8
"""Per request; a nightly job can afford to wait out a bad minute rather than fail."""


def run_monthly(
    today: dt.date | None = typer.Option(
        None,
        "--today",
        metavar="DATE",
        parser=date_value,
        help="Run as if on DATE (not later than today): replays a missed night.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the plan (counts and actions); write nothing anywhere."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Print nothing on success (for cron); errors still go to stderr.",
    ),
    rerun: str | None = typer.Option(
        None,
        "--rerun",
        metavar="YYYY-MM",
        parser=period_value,
        help="Re-count a completed period and update its tasks (never creates one).",
    ),
    workers: int = typer.Option(
        8, "--workers", min=1, max=32, help="Clients counted in parallel (within rate limits)."
    ),
) -> None:
    """Create this period's summary task per linked client, with the mapped Trigon counts."""
    started = time.monotonic()
    real_today = clock.today()
    day = today or real_today
    try:
        check_today(day, real_today)
        config = load_config()
        state = load_state()
        require_ready(config, state)
        if rerun is not None:
            rerun_target(state, rerun)  # a bad period fails before any connection is made
        else:
            schedule = schedule_for(config, state, day)
            if not schedule.due:
                _nothing_due(schedule.next_line(), schedule.next, as_json=as_json, quiet=quiet)
                _log(f"run-monthly today={day} nothing due; {schedule.next_line()}")
                return
        result = _run(
            config, day, dry_run=dry_run, rerun=rerun, workers=workers, silent=quiet or as_json
        )
    except TrigonSyncError as exc:
        _log(f"run-monthly today={day} error: {exc}")
        raise
    _render(result, as_json=as_json, quiet=quiet)
    _log(_summary_line(result, time.monotonic() - started))
    failure = result.partial_failure()
    if failure is not None:
        raise failure


def _nothing_due(line: str, nxt: Run, *, as_json: bool, quiet: bool) -> None:
    if quiet:
        return
    if as_json:
        from trigon_sync.cli import output

        output.print_json(
            {
                "periods": [],
                "warnings": [],
                "next": {
                    "period": nxt.period,
                    "import_day": nxt.import_day.isoformat(),
                    "window_start": nxt.window_start.isoformat(),
                    "window_end": nxt.window_end.isoformat(),
                },
            }
        )
        return
    typer.echo(f"Nothing due: {line}.")


def _run(
    config: Config,
    day: dt.date,
    *,
    dry_run: bool,
    rerun: str | None,
    workers: int,
    silent: bool,
) -> MonthlyResult:
    """Build both clients (the heavy imports happen only here) and do the run."""
    from trigon_sync import connections, monthly
    from trigon_sync.http import RetryPolicy

    policy = RetryPolicy(max_attempts=RETRY_ATTEMPTS)
    store = connections.secret_store(config)
    with (
        connections.trigon_client(config, store, policy=policy) as trigon,
        connections.uku_client(config, store, policy=policy) as uku,
    ):
        progress = _progress(silent)
        try:
            return monthly.run_monthly(
                config,
                trigon,
                uku,
                today=day,
                now=clock.now,
                dry_run=dry_run,
                rerun=rerun,
                workers=workers,
                on_period=progress.on_period if progress else None,
                on_client=progress.on_client if progress else None,
            )
        finally:
            if progress:
                progress.stop()


class _Bar:
    """A rich progress bar per period, shown only to a person at a terminal."""

    def __init__(self) -> None:
        from rich.progress import Progress

        from trigon_sync.cli import output

        self.progress = Progress(console=output.stderr, transient=False)
        self.task: Any = None
        self.progress.start()

    def on_period(self, run: Run, total: int) -> None:
        self.task = self.progress.add_task(f"{run.period}", total=total)

    def on_client(self, outcome: Any) -> None:
        if self.task is not None:
            self.progress.advance(self.task)

    def stop(self) -> None:
        self.progress.stop()


def _progress(silent: bool) -> _Bar | None:
    from trigon_sync.cli import output

    if silent or not output.stderr.is_terminal:
        return None
    return _Bar()


# -- rendering ----------------------------------------------------------------------------


def _render(result: MonthlyResult, *, as_json: bool, quiet: bool) -> None:
    from trigon_sync.cli import output

    for warning in result.warnings:
        output.stderr.print(f"warning: {warning}", markup=False, soft_wrap=True)
    for line in flag_lines(result):  # billing-relevant: stderr, so cron mails it
        output.stderr.print(line, markup=False, soft_wrap=True)
    if as_json:
        if not quiet:
            output.print_json(result.to_json())
        return
    if quiet:
        return
    if result.dry_run:
        _render_plan(result)
        return
    from trigon_sync.dates import format_ee

    if not result.periods:
        output.stdout.print("Nothing left to do: another run has just finished the period.")
    for period in result.periods:
        run = period.run
        states = {"create": 0, "update": 0, "exists": 0, "skip": 0, "done": 0}
        for outcome in period.outcomes:
            if outcome.ok:
                earlier = outcome.plan.reason == DONE_EARLIER
                states["done" if earlier else outcome.plan.action] += 1
        held = sum(1 for o in period.failed if o.plan.held)
        failed = len(period.failed) - held
        status = "complete" if period.complete else "NOT complete"
        if result.rerun:
            status = "re-counted" if period.complete else "re-count incomplete"
        output.stdout.print(
            f"{run.period} ({format_ee(run.window_start)}–{format_ee(run.window_end)}, "
            f"import day {format_ee(run.import_day)}): {states['create']} created, "
            f"{states['update']} updated, {states['exists']} unchanged, "
            f"{states['done']} done by an earlier run"
            + (f", {states['skip']} without a task" if states["skip"] else "")
            + (f", {failed} failed" if failed else "")
            + (f", {held} held for review" if held else "")
            + (f", {period.not_started} not started" if period.not_started else "")
            + f" — {status}",
            markup=False,
            soft_wrap=True,
        )
    if result.deferred:
        later = ", ".join(r.period for r in result.deferred)
        output.stdout.print(
            f"Not started: {later} (each period waits until the one before it is complete).",
            markup=False,
        )


WIDE = 4
"""More mapped fields than this are shown in one wrapped "Counts" column, not one each."""


def _render_plan(result: MonthlyResult) -> None:
    from rich.table import Table

    from trigon_sync import fields
    from trigon_sync.cli import output
    from trigon_sync.dates import format_ee

    for period in result.periods:
        run = period.run
        keys = [k for k in fields.KEYS if any(k in o.plan.counts for o in period.outcomes)]
        table = Table(
            title=f"{run.period}: import day {format_ee(run.import_day)}, counts "
            f"{format_ee(run.window_start)}–{format_ee(run.window_end)} (dry run: nothing written)",
            title_justify="left",
        )
        table.add_column("Client", min_width=16, overflow="fold")
        table.add_column("Code", no_wrap=True)
        table.add_column("Action", overflow="fold")
        wide = len(keys) > WIDE
        if wide:
            table.add_column("Counts", overflow="fold")
        else:
            for key in keys:
                table.add_column(fields.by_key(key).label_en, justify="right")
        for outcome in period.outcomes:
            plan = outcome.plan
            action = plan.action if not plan.reason else f"{plan.action}: {plan.reason}"
            if wide:
                cells = [", ".join(f"{k} {plan.counts[k]}" for k in keys if k in plan.counts)]
            else:
                cells = [str(plan.counts[k]) if k in plan.counts else "—" for k in keys]
            table.add_row(plan.link.name, plan.link.registration_code, action, *cells)
        output.stdout.print(table)


def flag_lines(result: MonthlyResult) -> list[str]:
    """One ``flag:`` line per client whose counts look wrong (held ones say so)."""
    lines = []
    for period in result.periods:
        for outcome in period.outcomes:
            plan = outcome.plan
            if not plan.flags:
                continue
            what = "; ".join(flag.message for flag in plan.flags)
            held = " — held, not written" if plan.held else ""
            lines.append(
                f"flag: {period.run.period} {plan.link.name} ({plan.link.registration_code}): "
                f"{what}{held}"
            )
    return lines


def _summary_line(result: MonthlyResult, seconds: float) -> str:
    periods = ",".join(p.run.period for p in result.periods) or "-"
    failed = "; ".join(
        f"{o.link.trigon_id} {o.link.registration_code}: {o.error}" for o in result.failed
    )
    kind = "dry-run" if result.dry_run else ("rerun" if result.rerun else "run")
    return (
        f"run-monthly {kind} today={result.today} periods={periods} "
        f"complete={','.join(p.run.period for p in result.periods if p.complete) or '-'} "
        f"clients_ok={result.ok_count} clients_failed={len(result.failed)} "
        f"created={result.count('created')} updated={result.count('updated')} "
        f"duration={seconds:.1f}s" + (f" failures: {failed}" if failed else "")
    )


def _log(line: str) -> None:
    """One line per invocation in the home's log (what cron did, for support staff)."""
    directory = paths.logs_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = clock.now().isoformat(timespec="seconds")
    # 0600 like every other file in the home (the umask would leave it world-readable).
    fd = os.open(directory / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(f"{stamp} {' '.join(line.split())}\n")
