"""``trigon-sync run-monthly``: the nightly cron job that writes the counts Uku bills from.

Almost every night nothing is due: the command reads two small TOML files, prints one
line (nothing with ``--quiet``) and exits 0 without touching the network or importing
the HTTP stack, rich or the planning modules (imported inside the functions that use them,
so that night costs little more than ``trigon-sync --version``). On an import day it takes
the state lock, builds both API clients and hands over to :mod:`trigon_sync.monthly.run`;
this module only renders what came back.
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
from trigon_sync.cli.params import date_value, rerun_value
from trigon_sync.errors import ExitCode, TrigonSyncError, UsageError
from trigon_sync.monthly import gate as monthly_gate
from trigon_sync.monthly import log_file as run_log

if TYPE_CHECKING:
    from trigon_sync.cli.run_progress import RunProgress
    from trigon_sync.clients.auto_import import AutoImport
    from trigon_sync.monitoring.nightly import Watch
    from trigon_sync.monthly.run import MonthlyResult
    from trigon_sync.settings.config import Config
    from trigon_sync.timeline.due import Timeline
    from trigon_sync.trigon import TrigonClient
    from trigon_sync.uku import UkuClient
    from trigon_sync.uku.settling import Settler

EXAMPLE = (
    "Example (cron, 00:30 Tallinn): trigon-sync run-monthly --quiet\n\n"
    "Replay a missed night: trigon-sync run-monthly --today 29.11.2024 --dry-run\n\n"
    "Counts of the current window so far: trigon-sync run-monthly --preview\n\n"
    "What a re-count of three months would change: "
    "trigon-sync run-monthly --rerun 2024-09..2024-11 --dry-run"
)
RETRY_ATTEMPTS = 8
"""Per request; a nightly job can afford to wait out a bad minute rather than fail."""
INTERRUPTED = 130


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
        help="Show what the real run would do (per client and period: action and counts, "
        "or the failure and why; the pairs left owed) and exit as it would; write nothing "
        "anywhere.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="Print nothing on success (for cron); warnings, count flags, each owed "
        "(client, period) with its reason and age, and one summary error line still go "
        "to stderr.",
    ),
    rerun: str | None = typer.Option(
        None,
        "--rerun",
        metavar="PERIOD",
        parser=rerun_value,
        help="Re-count a completed period YYYY-MM (or each completed period of a range "
        "YYYY-MM..YYYY-MM, oldest "
        "first) and update its tasks, showing each count's old -> new; a task the period's "
        "record holds that was deleted or moved away in Uku is created again, never a new "
        "one; a task Uku shows as finished is left as it is.",
    ),
    include_finished: bool = typer.Option(
        False,
        "--include-finished",
        help="With --rerun: also change tasks Uku shows as finished (they may be invoiced "
        "already).",
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
    scheduled = not (dry_run or preview or rerun)  # the form cron runs: it reports to monitoring
    watch: Watch | None = None
    try:
        night = monthly_gate.start_night(day, now)
        config = night.config
        watch = _watch(config) if scheduled else None
        if preview:
            from trigon_sync.cli import monthly_view
            from trigon_sync.store.state import load_state

            if rerun is not None or dry_run:
                raise UsageError("--preview cannot be combined with --rerun or --dry-run")
            state = night.state or load_state()
            planned = _preview(config, state, day, workers=workers, silent=quiet or as_json)
            monthly_view.render(planned, config, as_json=as_json, quiet=quiet, preview=True)
            return
        due = 1
        if include_finished and rerun is None:
            raise UsageError("--include-finished goes with --rerun")
        if rerun is not None:
            from trigon_sync.monthly.plan import rerun_targets
            from trigon_sync.store.state import load_state

            # a bad period fails before any connection is made
            due = len(rerun_targets(night.state or load_state(), rerun))
        else:
            schedule = night.schedule(day)
            if not schedule.due and not night.owes():
                _nothing_due(schedule, as_json=as_json, quiet=quiet)
                run_log.append(monthly_gate.nothing_due_log(day, schedule))
                logged = True
                _report(watch, day, None)
                return
            due = max(1, len(schedule.due))  # owed periods only: one pass
        from trigon_sync.cli import monthly_view, run_guards

        if not dry_run:
            run_guards.before_writing()
        else:
            run_guards.busy_as_the_real_run()
        _report(watch, day, "start")
        result = _run(
            config,
            day,
            dry_run=dry_run,
            rerun=rerun,
            include_finished=include_finished,
            workers=workers,
            silent=quiet or as_json,
            explicit_day=today is not None,
            periods=due,
        )
    except TrigonSyncError as exc:
        if not logged:
            run_log.append(f"run-monthly today={day} error: {exc}", strict=False)
        if not (dry_run or rerun or isinstance(exc, UsageError)):
            _still_owed(day)
        if scheduled:
            _report(watch or _watch_after_error(), day, int(exc.exit_code))
        raise
    except KeyboardInterrupt:
        if scheduled:
            _report(watch, day, INTERRUPTED)
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
        if scheduled:
            _report(watch, day, int(ExitCode.UNEXPECTED))
        raise
    auto = result.auto
    if auto is not None:
        from trigon_sync.cli.auto_import_view import log_line, render_auto_import

        render_auto_import(auto, as_json=as_json)
        run_log.append(log_line(auto))
    monthly_view.render(result.result, config, as_json=as_json, quiet=quiet, auto=auto)
    for note in result.result.notes:
        run_log.append(f"note: {note}", strict=False)
    halted = result.halted
    line = monthly_view.summary_line(result.result, time.monotonic() - started, halted=halted)
    run_log.append(line, strict=False)
    failure = result.result.partial_failure()
    if failure is None and auto is not None:
        from trigon_sync.cli.auto_import_view import auto_import_failure

        failure = auto_import_failure(auto)
    _report(watch, day, _exit_code(halted, failure))
    if halted is not None:
        run_guards.stop_report(result.result, halted)
    if failure is not None:
        raise failure


def _still_owed(day: dt.date) -> None:
    """A night that fails names each (client, period) still owed, one line each, above
    its error line: what the invoices miss must reach cron mail on the night nobody
    looks at `status`. Best effort: the records may be what failed."""
    from trigon_sync.cli import output
    from trigon_sync.monthly import owing
    from trigon_sync.store.state import load_state

    try:
        pairs = owing.stored(load_state())
    except Exception:  # the run's own error is the one to report
        return
    for pair in pairs:
        output.line(pair.line(day))


def _nothing_due(schedule: Timeline, *, as_json: bool, quiet: bool) -> None:
    from trigon_sync.schedule.run_text import window_json

    if quiet:
        return
    nxt = schedule.next
    if as_json:
        from trigon_sync.cli import output

        output.print_json(
            {
                "periods": [],
                "warnings": [],
                "next": {"period": nxt.period, **window_json(nxt)},
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
    include_finished: bool = False,
    workers: int,
    silent: bool,
    explicit_day: bool,
    periods: int,
) -> _Outcome:
    """Build both clients (the heavy imports happen only here), check the clock, run.

    With ``[import] auto_import = "create"`` new Trigon firms are imported first (step 6).
    """
    from trigon_sync.cli import run_guards
    from trigon_sync.cli.probe_cmd import apply_facts
    from trigon_sync.http import waits
    from trigon_sync.monthly import run as monthly

    config, facts = apply_facts(config)  # refuses when a probe found exactly once broken
    halt = run_guards.Halt.for_periods(periods)
    with _connected(config, stop=halt.event) as (trigon, uku):
        uku.complete_endpoint = facts is not None and facts.complete_served is True
        trusted = run_guards.trusted_today(trigon, uku, silent=silent)
        if explicit_day:
            monthly_gate.check_today(day, trusted)
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
                    include_finished=include_finished,
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
    from trigon_sync.cli import run_guards
    from trigon_sync.http import waits
    from trigon_sync.monthly import run as monthly

    window = monthly_gate.schedule_for(config, state, day).preview()
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

    return Settler.for_settings(config.uku)


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


# -- monitoring ([monitoring] in config.toml; monitoring/nightly.py) -----------------------


def _watch(config: Config) -> Watch | None:
    """The run's monitoring, or None when config.toml sets none (nothing more is imported)."""
    if not config.monitoring.enabled:
        return None
    from trigon_sync.monitoring.nightly import Watch

    return Watch(config, warn=_warn, now=clock.now)


def _watch_after_error() -> Watch | None:
    """A run that failed before its settings were in hand: they may still be readable
    (the clock or the readiness check failed), and then the monitor hears the exit code."""
    from trigon_sync.store.config_file import load_config

    try:
        return _watch(load_config())
    except Exception:
        return None


def _warn(text: str) -> None:
    """One ``warning:`` line on stderr (also with --quiet: cron mails it) and in the log."""
    typer.echo(f"warning: {text}", err=True)
    run_log.append(f"warning: {text}", strict=False)


def _report(watch: Watch | None, day: dt.date, moment: int | str | None) -> None:
    """Tell the monitoring: ``"start"``, an exit code, or None for a night with nothing
    due. Never changes how the run ends: a failure here is a warning."""
    if watch is None:
        return
    try:
        if moment == "start":
            watch.start()
        elif moment is None:
            watch.alive(day)
        else:
            watch.finish(day, int(moment))
    except Exception as exc:
        _warn(f"monitoring failed ({type(exc).__name__}); the run goes on")


def _exit_code(halted: str | None, failure: TrigonSyncError | None) -> int:
    """The code the command is about to exit with (run_guards.stop_report, the boundary)."""
    from trigon_sync.cli import run_guards

    if halted is not None and halted != run_guards.TIME_BOUND:
        return INTERRUPTED
    if halted is not None:
        return int(ExitCode.PARTIAL)
    return 0 if failure is None else int(failure.exit_code)
