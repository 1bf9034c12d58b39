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
from typing import TYPE_CHECKING, Any, cast

import typer

from trigon_sync import clock, paths
from trigon_sync.cli.params import date_value, period_value
from trigon_sync.config import Config, load_config
from trigon_sync.errors import TrigonSyncError, UsageError
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
    "Replay a missed night: trigon-sync run-monthly --today 29.11.2024 --dry-run\n\n"
    "Counts of the current window so far: trigon-sync run-monthly --preview"
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
        help="Print nothing on success (for cron); errors, warnings, failed clients and "
        "held-back periods still go to stderr, one line each.",
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
    preview: bool = typer.Option(
        False,
        "--preview",
        help="Show the counts of the window the next import counts, so far (up to "
        "yesterday); write nothing anywhere.",
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
        if preview:
            if rerun is not None or dry_run:
                raise UsageError("--preview cannot be combined with --rerun or --dry-run")
            result = _preview(config, state, day, workers=workers, silent=quiet or as_json)
            _render(result, config, as_json=as_json, quiet=quiet, preview=True)
            return
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
    _render(result, config, as_json=as_json, quiet=quiet)
    _log(_summary_line(result, time.monotonic() - started))
    failure = result.partial_failure()
    if failure is not None:
        raise failure


def _preview(
    config: Config, state: Any, day: dt.date, *, workers: int, silent: bool
) -> MonthlyResult:
    """A dry run of the upcoming window cut off at yesterday (timeline.Timeline.preview)."""
    from trigon_sync import monthly

    window = schedule_for(config, state, day).preview()
    if window is None:
        raise UsageError(
            f"no day of the next window is over yet on {day:%d.%m.%Y}",
            hint="a preview counts from the window's first day up to yesterday; try tomorrow",
        )
    return _with_clients(
        config,
        silent,
        lambda trigon, uku, progress: monthly.MonthlyRun(
            config,
            trigon,
            uku,
            today=day,
            now=clock.now,
            workers=workers,
            on_period=progress.on_period if progress else None,
            on_client=progress.on_client if progress else None,
        ).plan(state, [window]),
    )


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
    from trigon_sync import monthly

    return _with_clients(
        config,
        silent,
        lambda trigon, uku, progress: monthly.run_monthly(
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
        ),
    )


def _with_clients(config: Config, silent: bool, work: Any) -> MonthlyResult:
    """Connect to both services (with cron's patient retries) and a progress bar, run
    ``work(trigon, uku, progress)``, and close everything."""
    from trigon_sync import connections
    from trigon_sync.http import RetryPolicy

    policy = RetryPolicy(max_attempts=RETRY_ATTEMPTS)
    store = connections.secret_store(config)
    with (
        connections.trigon_client(config, store, policy=policy) as trigon,
        connections.uku_client(config, store, policy=policy) as uku,
    ):
        progress = _progress(silent)
        try:
            return cast("MonthlyResult", work(trigon, uku, progress))
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


def _render(
    result: MonthlyResult, config: Config, *, as_json: bool, quiet: bool, preview: bool = False
) -> None:
    from trigon_sync.cli import output

    for warning in result.warnings:
        output.stderr.print(f"warning: {warning}", markup=False, soft_wrap=True)
    if quiet:
        for line in billing_lines(result):
            output.stderr.print(line, markup=False, soft_wrap=True)
    if as_json:
        if not quiet:
            doc = result.to_json()
            if result.dry_run:
                doc["dry_run"] = True  # a real run's document says false
                doc["preview"] = preview
            output.print_json(doc)
        return
    if quiet:
        return
    if result.dry_run:
        _render_plan(result, config, preview=preview)
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
        failed = len(period.failed)
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


def billing_lines(result: MonthlyResult) -> list[str]:
    """What cron mail must carry even with ``--quiet``: one line per failed client and per
    period held back (unlinked firms come as a warning line of their own).

    The exit code says something went wrong; these lines say which invoices it touches.
    """
    if result.dry_run:
        return []
    from trigon_sync.dates import format_ee

    lines = [
        f"failed: {o.link.name} ({o.link.registration_code or o.link.trigon_id}) in period "
        f"{period.run.period}: {o.error}"
        for period in result.periods
        for o in period.failed
    ]
    open_periods = [p.run for p in result.periods if not p.complete]
    for run in open_periods:
        if result.rerun:
            lines.append(
                f"held back: the re-count of {run.period} is incomplete; its tasks may "
                "hold the earlier counts until `run-monthly --rerun` succeeds"
            )
        else:
            lines.append(
                f"held back: period {run.period} ({format_ee(run.window_start)}–"
                f"{format_ee(run.window_end)}) is not complete; the next run retries it"
            )
    blocker = open_periods[0].period if open_periods else "the one before"
    lines.extend(
        f"held back: period {run.period} (import day {format_ee(run.import_day)}) waits "
        f"until {blocker} is complete"
        for run in result.deferred
    )
    return lines


def _uku_name(config: Config, key: str) -> str:
    """The Uku field a count goes into, as config.toml names it (map-fields stores the name
    Uku spells, or the id when two Uku fields share a name)."""
    target = config.fields.get(key)
    return f"Uku field {target}" if isinstance(target, int) else str(target or key)


def _render_plan(result: MonthlyResult, config: Config, *, preview: bool = False) -> None:
    """The dry-run plan within 80 columns: per client its action (and why) and its counts
    under Uku's field names, then a totals line per period."""
    from rich.table import Table
    from rich.text import Text

    from trigon_sync import fields
    from trigon_sync.cli import output
    from trigon_sync.dates import format_ee

    for period in result.periods:
        run = period.run
        keys = [k for k in fields.KEYS if any(k in o.plan.counts for o in period.outcomes)]
        output.stdout.print(
            f"{run.period}: import day {format_ee(run.import_day)}, counts "
            f"{format_ee(run.window_start)}–{format_ee(run.window_end)} "
            + ("(preview, so far)" if preview else "(dry run)"),
            markup=False,
        )
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("Action", no_wrap=True)
        table.add_column("Client (registration code) and counts by Uku field", overflow="fold")
        actions: dict[str, int] = {}
        totals = dict.fromkeys(keys, 0)
        for outcome in period.outcomes:
            plan = outcome.plan
            actions[plan.action] = actions.get(plan.action, 0) + 1
            cell = Text(f"{plan.link.name} ({plan.link.registration_code or plan.link.trigon_id})")
            if plan.reason:
                cell.append(f": {plan.reason}")
            counted = [k for k in keys if k in plan.counts]
            if counted:
                cell.append(
                    "\n" + ", ".join(f"{_uku_name(config, k)} {plan.counts[k]}" for k in counted)
                )
            for k in counted:
                totals[k] += plan.counts[k]
            table.add_row(plan.action, cell)
        output.stdout.print(table)
        done = ", ".join(f"{n} {action}" for action, n in actions.items()) or "no clients"
        summed = (
            "; " + ", ".join(f"{_uku_name(config, k)} {totals[k]}" for k in keys) if keys else ""
        )
        output.stdout.print(f"Totals: {done}{summed}", markup=False)


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
