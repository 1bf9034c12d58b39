"""``trigon-sync run-monthly``: the nightly cron job that writes the counts Uku bills from.

Almost every night nothing is due: the command reads two small TOML files, prints one
line (nothing with ``--quiet``) and exits 0 without touching the network or importing
the HTTP stack. On an import day it takes the state lock, builds both API clients and
hands over to :mod:`trigon_sync.monthly`; this module only renders what came back.
Every invocation leaves one line in ``<home>/logs/trigon-sync.log`` (never a secret).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import clock, paths, skew
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
    from trigon_sync.auto_import import AutoImport
    from trigon_sync.monthly import MonthlyResult
    from trigon_sync.trigon import TrigonClient
    from trigon_sync.uku import UkuClient

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
    preview: bool = typer.Option(
        False,
        "--preview",
        help="Show the counts of the window the next import counts, so far (up to "
        "yesterday); write nothing anywhere.",
    ),
    workers: int = typer.Option(
        8, "--workers", min=1, max=32, help="Clients counted in parallel (within rate limits)."
    ),
) -> None:
    """Create this period's summary task per linked client, with the mapped Trigon counts."""
    started = time.monotonic()
    now = clock.now()
    real_today = now.date()
    day = today or real_today
    logged = False
    try:
        check_today(day, real_today)
        config = load_config()
        state = load_state()
        require_ready(config, state)
        # A clock behind a run already recorded is caught without the network.
        behind = skew.behind_last_run(now, skew.last_recorded(state.history))
        if behind is not None:
            raise behind
        if preview:
            if rerun is not None or dry_run:
                raise UsageError("--preview cannot be combined with --rerun or --dry-run")
            planned = _preview(config, state, day, workers=workers, silent=quiet or as_json)
            _render(planned, config, as_json=as_json, quiet=quiet, preview=True)
            return
        due = 1
        if rerun is not None:
            rerun_target(state, rerun)  # a bad period fails before any connection is made
        else:
            schedule = schedule_for(config, state, day)
            if not schedule.due:
                _nothing_due(schedule.next_line(), schedule.next, as_json=as_json, quiet=quiet)
                _log(f"run-monthly today={day} nothing due; {schedule.next_line()}")
                logged = True
                return
            due = len(schedule.due)
        if not dry_run:
            _before_writing()
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
            _log(f"run-monthly today={day} error: {exc}", strict=False)
        raise
    except KeyboardInterrupt:
        _log(
            f"run-monthly today={day} interrupted at once (a second signal); "
            "`trigon-sync history` shows what was written",
            strict=False,
        )
        raise
    except Exception as exc:
        _log(f"run-monthly today={day} unexpected error: {type(exc).__name__}", strict=False)
        raise
    auto = result.auto
    if auto is not None:
        from trigon_sync.cli.auto_import_view import log_line, render_auto_import

        render_auto_import(auto, as_json=as_json)
        _log(log_line(auto))
    _render(result.result, config, as_json=as_json, quiet=quiet, auto=auto)
    halted = result.halted
    _log(_summary_line(result.result, time.monotonic() - started, halted=halted), strict=False)
    if halted is not None:
        _stopped(result.result, halted)
    failure = result.result.partial_failure()
    if failure is None and auto is not None:
        from trigon_sync.cli.auto_import_view import auto_import_failure

        failure = auto_import_failure(auto)
    if failure is not None:
        raise failure


def _before_writing() -> None:
    """The home's rules, checked before the first write: owner, and a warning when loose."""
    from trigon_sync import environment_checks, home_safety
    from trigon_sync.cli import output

    home_safety.check_home()
    home = paths.home_dir()
    if home_safety.group_or_world_writable(home):
        check = environment_checks.permissions_check(home)  # the same rule doctor applies
        output.stderr.print(
            f"warning: the trigon-sync home is writable by other users: {check.detail}"
            + (f" (fix: {check.fix})" if check.fix else ""),
            markup=False,
            soft_wrap=True,
        )


def _stopped(result: MonthlyResult, halted: str) -> None:
    """Exit after a signal (130) or the run's time bound (PARTIAL), saying what was written."""
    from trigon_sync.cli import output
    from trigon_sync.cli.boundary import INTERRUPTED
    from trigon_sync.errors import PartialFailure

    written = f"{result.count('created')} task(s) created, {result.count('updated')} updated"
    left = f"{sum(p.not_started for p in result.periods)} client(s) not started"
    if result.deferred:
        left += f", period(s) not started: {', '.join(r.period for r in result.deferred)}"
    if halted == TIME_BOUND:
        raise PartialFailure(
            f"run-monthly stopped at its time bound ({RUN_BOUND_HOURS:g} h per period): "
            f"{written}; {left}",
            hint="the services are very slow; the next run continues where this one stopped",
        )
    output.stderr.print(
        f"error: interrupted ({halted}): {written}; {left}; run the command again to continue",
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(INTERRUPTED)


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


TIME_BOUND = "time bound"
RUN_BOUND_HOURS = 2.0
"""A period's clients must be done within this; the run as a whole stops before
:data:`RUN_BOUND_CAP_HOURS`, so cron's next night never finds it still running."""
RUN_BOUND_CAP_HOURS = 20.0


@dataclass
class _Outcome:
    result: MonthlyResult
    halted: str | None = None
    """Why the run stopped early: a signal's name or :data:`TIME_BOUND`."""
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
    from trigon_sync import monthly

    with _connected(config) as (trigon, uku):
        trusted = _trusted_today(trigon, uku, silent=silent)
        if explicit_day:
            check_today(day, trusted)
        day = min(day, trusted)
        auto = _auto_import(config, trigon, uku, dry_run=dry_run) if rerun is None else None
        progress = _progress(silent)
        halt = _Halt(bound_hours=min(RUN_BOUND_HOURS * periods, RUN_BOUND_CAP_HOURS))
        try:
            with halt.installed(active=not dry_run):
                result = monthly.run_monthly(
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
                    halt=halt.event,
                )
        finally:
            if progress:
                progress.stop()
        return _Outcome(result, halt.reason, auto)


@contextlib.contextmanager
def _connected(config: Config) -> Iterator[tuple[TrigonClient, UkuClient]]:
    """Both clients, with cron's patient retries; closed when the block ends."""
    from trigon_sync import connections
    from trigon_sync.http import RetryPolicy

    policy = RetryPolicy(max_attempts=RETRY_ATTEMPTS)
    store = connections.secret_store(config)
    with (
        connections.trigon_client(config, store, policy=policy) as trigon,
        connections.uku_client(config, store, policy=policy) as uku,
    ):
        yield trigon, uku


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
    with _connected(config) as (trigon, uku):
        _trusted_today(trigon, uku, silent=silent)
        progress = _progress(silent)
        try:
            return monthly.MonthlyRun(
                config,
                trigon,
                uku,
                today=day,
                now=clock.now,
                workers=workers,
                on_period=progress.on_period if progress else None,
                on_client=progress.on_client if progress else None,
            ).plan(state, [window])
        finally:
            if progress:
                progress.stop()


def _auto_import(
    config: Config, trigon: TrigonClient, uku: UkuClient, *, dry_run: bool
) -> AutoImport | None:
    """Step 6 of the help page when the setting asks for it; a dry run writes nothing."""
    if config.imports.auto_import != "create":
        return None
    from trigon_sync.auto_import import auto_import
    from trigon_sync.cli.import_cmd import register_index
    from trigon_sync.state import locked_state

    if dry_run:  # a fresh register file goes to a temporary directory: the home is unchanged
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory(prefix="trigon-sync-register-") as scratch:
            register = register_index(None, config, download=True, scratch=Path(scratch))
        return auto_import(trigon, uku, register, session=None, now=clock.now())
    register = register_index(None, config, download=True)
    with locked_state() as session:
        return auto_import(trigon, uku, register, session=session, now=clock.now())


def _trusted_today(trigon: Any, uku: Any, *, silent: bool) -> dt.date:
    """Ask both services the time (one cheap call each); stop if the local clock is off.

    Returns today by the earliest clock, so no period is counted before its import day
    has come for the services too.
    """
    from trigon_sync.cli import output

    skews: list[skew.Skew] = []
    # Uku first: its check is a plain GET, while Trigon's may rotate the refresh token.
    for service, client, call in (("Uku", uku, uku.check), ("Trigon", trigon, trigon.me)):
        call()
        sample = client.stats.server_clock.sample
        if sample is not None:
            skews.append(skew.Skew(service, sample))
        problem = skew.problem(skews)
        if problem is not None:
            raise problem
    if not skews and not silent:
        output.stderr.print(
            "warning: neither Trigon nor Uku sent a Date header; the local clock was not checked",
            markup=False,
        )
    return skew.services_today(clock.now(), skews)


class _Halt:
    """Stops queued clients on SIGINT/SIGTERM or at the run's time bound.

    The first signal sets :attr:`event` (clients in flight finish, their results are
    saved and reported); a second one interrupts at once.
    """

    def __init__(self, *, bound_hours: float) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self.bound_seconds = bound_hours * 3600

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()

    @contextlib.contextmanager
    def installed(self, *, active: bool) -> Iterator[None]:
        if not active:
            yield
            return
        timer = threading.Timer(self.bound_seconds, self.stop, args=(TIME_BOUND,))
        timer.daemon = True
        timer.start()
        previous: dict[int, Any] = {}

        def on_signal(signum: int, _frame: Any) -> None:
            if self.event.is_set() and self.reason != TIME_BOUND:
                raise KeyboardInterrupt
            self.stop(signal.Signals(signum).name)

        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, on_signal)
        try:
            yield
        finally:
            timer.cancel()
            for number, handler in previous.items():
                signal.signal(number, handler)


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
    result: MonthlyResult,
    config: Config,
    *,
    as_json: bool,
    quiet: bool,
    auto: AutoImport | None = None,
    preview: bool = False,
) -> None:
    from trigon_sync import redact
    from trigon_sync.cli import output

    for warning in result.warnings:  # Uku's words: scrubbed, shown as plain text
        output.stderr.print(
            f"warning: {output.plain(redact.scrub(warning))}", markup=False, soft_wrap=True
        )
    if quiet:
        for line in billing_lines(result):
            output.stderr.print(output.plain(redact.scrub(line)), markup=False, soft_wrap=True)
    for line in flag_lines(result):  # billing-relevant: stderr, so cron mails it
        output.stderr.print(output.plain(line), markup=False, soft_wrap=True)
    if as_json:
        if not quiet:
            doc = result.to_json()
            if result.dry_run:
                doc["dry_run"] = True  # a real run's document says false
                doc["preview"] = preview
            if auto is not None:
                doc["auto_import"] = auto.to_json()
            output.print_json(doc)
        return
    if quiet:
        return
    if result.dry_run:
        _render_plan(result, config, preview=preview)
        return
    from trigon_sync.dates import format_ee

    if not result.periods and not result.deferred:
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


def _summary_line(result: MonthlyResult, seconds: float, *, halted: str | None = None) -> str:
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
        f"duration={seconds:.1f}s"
        + (f" interrupted={halted.replace(' ', '-')}" if halted else "")
        + (f" failures: {failed}" if failed else "")
    )


def _log(line: str, *, strict: bool = True) -> None:
    """One line per invocation in the home's log (what cron did, for support staff).

    ``strict=False`` on the way out of a failure: a log that cannot be written (foreign
    owner, a symlink, a full disk) must not hide the error being reported.
    """
    if not strict:
        with contextlib.suppress(TrigonSyncError, OSError):
            _log(line)
        return
    from trigon_sync import home_safety, redact

    directory = home_safety.guard_write(paths.logs_dir())
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = clock.now().isoformat(timespec="seconds")
    # 0600 like every other file in the home (the umask would leave it world-readable).
    fd = home_safety.open_for_append(directory / LOG_NAME)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(f"{stamp} {redact.scrub(' '.join(line.split()))}\n")
