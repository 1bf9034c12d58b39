"""``trigon-sync run-monthly``: the nightly cron job that writes the counts Uku bills from.

Almost every night nothing is due: the command reads two small TOML files, prints one
line (nothing with ``--quiet``) and exits 0 without touching the network or importing
the HTTP stack. On an import day it takes the state lock, builds both API clients and
hands over to :mod:`trigon_sync.monthly.run`; this module only renders what came back.
Every invocation leaves one line in ``<home>/logs/trigon-sync.log`` (never a secret).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import clock
from trigon_sync.cli import monthly_view, run_guards
from trigon_sync.cli.params import date_value, period_value
from trigon_sync.errors import TrigonSyncError, UsageError
from trigon_sync.monthly import gate as monthly_gate
from trigon_sync.monthly import log_file as run_log
from trigon_sync.monthly.gate import check_today, schedule_for
from trigon_sync.monthly.plan import rerun_target
from trigon_sync.settings.config import Config
from trigon_sync.store.state import load_state

if TYPE_CHECKING:
    from trigon_sync.cli.run_progress import RunProgress
    from trigon_sync.clients.auto_import import AutoImport
    from trigon_sync.monthly.run import MonthlyResult
    from trigon_sync.timeline.due import Timeline
    from trigon_sync.trigon import TrigonClient
    from trigon_sync.uku import UkuClient
    from trigon_sync.uku.settling import Settler

EXAMPLE = (
    "Example (cron, 00:30 Tallinn): trigon-sync run-monthly --quiet\n\n"
    "Replay a missed night: trigon-sync run-monthly --today 29.11.2024 --dry-run\n\n"
    "Counts of the current window so far: trigon-sync run-monthly --preview"
)
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
        False,
        "--dry-run",
        help="Show what the real run would do (per client: action and counts, or the "
        "failure and why; periods held back) and exit as it would; write nothing anywhere.",
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
        help="Re-count a completed period and update its tasks; a task the period's record "
        "holds that was deleted or moved away in Uku is created again.",
    ),
    preview: bool = typer.Option(
        False,
        "--preview",
        help="Show the counts of the window the next import counts, so far (up to "
        "yesterday); write nothing anywhere.",
    ),
    workers: int = typer.Option(
        8,
        "--workers",
        min=1,
        max=32,
        metavar="N",
        help="Clients counted in parallel (within rate limits), 1 to 32.",
    ),
) -> None:
    """Create this period's summary task per linked client, with the mapped Trigon counts."""
    started = time.monotonic()
    now = clock.now()
    day = today or now.date()
    logged = False
    try:
        night = monthly_gate.start_night(day, now)
        config = night.config
        if preview:
            if rerun is not None or dry_run:
                raise UsageError("--preview cannot be combined with --rerun or --dry-run")
            state = night.state or load_state()
            planned = _preview(config, state, day, workers=workers, silent=quiet or as_json)
            monthly_view.render(planned, config, as_json=as_json, quiet=quiet, preview=True)
            return
        due = 1
        if rerun is not None:
            # a bad period fails before any connection is made
            rerun_target(night.state or load_state(), rerun)
        else:
            schedule = night.schedule(day)
            if not schedule.due:
                # the fast entry (cli/entry.py) answers this night the same way
                _nothing_due(schedule, as_json=as_json, quiet=quiet)
                run_log.append(monthly_gate.nothing_due_log(day, schedule))
                logged = True
                return
            due = len(schedule.due)
        if not dry_run:
            run_guards.before_writing()
        result = _run(
            config,
            day,
            dry_run=dry_run,
            rerun=rerun,
            workers=workers,
            silent=quiet or as_json,
            explicit_day=today is not None,
            periods=due,
        )
    except TrigonSyncError as exc:
        if not logged:
            run_log.append(f"run-monthly today={day} error: {exc}", strict=False)
        raise
    except KeyboardInterrupt:
        run_log.append(
            f"run-monthly today={day} interrupted at once (a second signal); "
            "`trigon-sync history` shows what was written",
            strict=False,
        )
        raise
    except Exception as exc:
        run_log.append(
            f"run-monthly today={day} unexpected error: {type(exc).__name__}", strict=False
        )
        raise
    auto = result.auto
    if auto is not None:
        from trigon_sync.cli.auto_import_view import log_line, render_auto_import

        render_auto_import(auto, as_json=as_json)
        run_log.append(log_line(auto))
    monthly_view.render(result.result, config, as_json=as_json, quiet=quiet, auto=auto)
    halted = result.halted
    line = monthly_view.summary_line(result.result, time.monotonic() - started, halted=halted)
    run_log.append(line, strict=False)
    if halted is not None:
        run_guards.stop_report(result.result, halted)
    failure = result.result.partial_failure()
    if failure is None and auto is not None:
        from trigon_sync.cli.auto_import_view import auto_import_failure

        failure = auto_import_failure(auto)
    if failure is not None:
        raise failure


def _nothing_due(schedule: Timeline, *, as_json: bool, quiet: bool) -> None:
    if quiet:
        return
    nxt = schedule.next
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
    typer.echo(monthly_gate.nothing_due_text(schedule))


@dataclass
class _Outcome:
    result: MonthlyResult
    halted: str | None = None
    """Why the run stopped early: a signal's name or :data:`run_guards.TIME_BOUND`."""
    auto: AutoImport | None = None
    """What step 6 (``[import] auto_import = "create"``) did before the run."""


def _run(
    config: Config,
    day: dt.date,
    *,
    dry_run: bool,
    rerun: str | None,
    workers: int,
    silent: bool,
    explicit_day: bool,
    periods: int,
) -> _Outcome:
    """Build both clients (the heavy imports happen only here), check the clock, run.

    With ``[import] auto_import = "create"`` new Trigon firms are imported first (step 6).
    """
    from trigon_sync.http import waits
    from trigon_sync.monthly import run as monthly

    halt = run_guards.Halt.for_periods(periods)
    with _connected(config, stop=halt.event) as (trigon, uku):
        trusted = run_guards.trusted_today(trigon, uku, silent=silent)
        if explicit_day:
            check_today(day, trusted)
        day = min(day, trusted)
        auto = _auto_import(config, trigon, uku, dry_run=dry_run) if rerun is None else None
        progress = _progress(workers, silent)
        halt.on_signal = progress.stopping
        try:
            with halt.installed(active=not dry_run), waits.listening(progress.on_wait):
                result = monthly.run_monthly(
                    config,
                    trigon,
                    uku,
                    today=day,
                    now=clock.now,
                    dry_run=dry_run,
                    rerun=rerun,
                    workers=workers,
                    on_period=progress.on_period,
                    on_client=progress.on_client,
                    halt=halt.event,
                )
        finally:
            progress.stop()
        return _Outcome(result, halt.reason, auto)


def _progress(workers: int, silent: bool) -> RunProgress:
    """The bar only for a person at a terminal; the stopping line unless ``--quiet``."""
    from trigon_sync.cli import output
    from trigon_sync.cli.run_progress import RunProgress

    bar = not silent and output.stderr.is_terminal
    return RunProgress(workers=workers, bar=bar, speak=not silent)


@contextlib.contextmanager
def _connected(
    config: Config, *, stop: threading.Event | None = None
) -> Iterator[tuple[TrigonClient, UkuClient]]:
    """Both clients, with cron's patient retries; closed when the block ends. Once
    ``stop`` is set, reads give up their waits (a stopping run waits for no rate limit)."""
    from trigon_sync.cli import connections
    from trigon_sync.http.session import RetryPolicy

    policy = RetryPolicy(max_attempts=RETRY_ATTEMPTS)
    store = connections.secret_store(config)
    with (
        connections.trigon_client(config, store, policy=policy, stop=stop) as trigon,
        connections.uku_client(config, store, policy=policy, stop=stop) as uku,
    ):
        yield trigon, uku


def _preview(
    config: Config, state: Any, day: dt.date, *, workers: int, silent: bool
) -> MonthlyResult:
    """A dry run of the upcoming window cut off at yesterday (timeline.Timeline.preview)."""
    from trigon_sync.http import waits
    from trigon_sync.monthly import run as monthly

    window = schedule_for(config, state, day).preview()
    if window is None:
        raise UsageError(
            f"no day of the next window is over yet on {day:%d.%m.%Y}",
            hint="a preview counts from the window's first day up to yesterday; try tomorrow",
        )
    with _connected(config) as (trigon, uku):
        run_guards.trusted_today(trigon, uku, silent=silent)
        progress = _progress(workers, silent)
        try:
            with waits.listening(progress.on_wait):
                return monthly.MonthlyRun(
                    config,
                    trigon,
                    uku,
                    today=day,
                    now=clock.now,
                    workers=workers,
                    on_period=progress.on_period,
                    on_client=progress.on_client,
                ).plan(state, [window])
        finally:
            progress.stop()


def _settler(config: Config) -> Settler:
    """How long a lost create's answer is waited out before Uku is read again."""
    from trigon_sync.uku.settling import Settler

    return Settler(config.uku.settle_seconds, clock.now, time.sleep)


def _auto_import(
    config: Config, trigon: TrigonClient, uku: UkuClient, *, dry_run: bool
) -> AutoImport | None:
    """Step 6 of the help page when the setting asks for it; a dry run writes nothing."""
    if config.imports.auto_import != "create":
        return None
    from trigon_sync.cli.import_cmd import register_index
    from trigon_sync.clients.auto_import import auto_import
    from trigon_sync.store.state import locked_state

    if dry_run:  # a fresh register file goes to a temporary directory: the home is unchanged
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory(prefix="trigon-sync-register-") as scratch:
            register = register_index(None, config, download=True, scratch=Path(scratch))
        return auto_import(
            trigon, uku, register, session=None, now=clock.now(), settler=_settler(config)
        )
    register = register_index(None, config, download=True)
    with locked_state() as session:
        return auto_import(
            trigon, uku, register, session=session, now=clock.now(), settler=_settler(config)
        )
