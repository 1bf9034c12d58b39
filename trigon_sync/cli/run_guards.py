"""The guards around a real ``run-monthly``: the home, the clock, signals and a time bound.

Before anything is written: the home must belong to this user and is warned about when
others may write it; the local clock must agree with Trigon's and Uku's. While the run
works: SIGINT/SIGTERM or the run's time bound stop queued clients (those in flight
finish), and what was written is said before the exit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import clock
from trigon_sync.http import clock_skew as skew
from trigon_sync.store import paths

if TYPE_CHECKING:
    from trigon_sync.monthly.result import MonthlyResult


TIME_BOUND = "time bound"
RUN_BOUND_HOURS = 2.0
"""A period's clients must be done within this; the run as a whole stops before
:data:`RUN_BOUND_CAP_HOURS`, so cron's next night never finds it still running."""
RUN_BOUND_CAP_HOURS = 20.0


def before_writing() -> None:
    """The home's rules, checked before the first write: owner, and a warning when loose."""
    from trigon_sync.cli import output
    from trigon_sync.health import environment_checks
    from trigon_sync.store import home_safety

    home_safety.check_home()
    home = paths.home_dir()
    if home_safety.group_or_world_writable(home):
        check = environment_checks.permissions_check(home)  # the same rule doctor applies
        output.line(
            f"warning: the trigon-sync home is writable by other users: {check.detail}"
            + (f" (fix: {check.fix})" if check.fix else "")
        )


def busy_as_the_real_run() -> None:
    """A dry run exits as the real run would when the home is busy or its records are
    refused: the state lock another run holds, the records database's write lock held
    past the bounded wait (BusyError, exit 6), a damaged database (StateError, exit 8).
    Nothing is written: the locks are tried and let go."""
    from trigon_sync.store import lock, records_db

    lock.probe()
    db = records_db.shared()
    if db is not None:
        db.probe_write()


def stop_report(result: MonthlyResult, halted: str) -> None:
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
    output.line(
        f"error: interrupted ({halted}): {written}; {left}; run the command again to continue"
    )
    raise typer.Exit(INTERRUPTED)


def trusted_today(trigon: Any, uku: Any, *, silent: bool) -> dt.date:
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


class Halt:
    """Stops queued clients on SIGINT/SIGTERM or at the run's time bound.

    The first signal sets :attr:`event` (clients in flight finish, their results are
    saved and reported); a second one interrupts at once.
    """

    @classmethod
    def for_periods(cls, periods: int) -> Halt:
        """The bound for a run of ``periods`` due periods (capped, so cron's next night
        never finds this run still going)."""
        return cls(bound_hours=min(RUN_BOUND_HOURS * periods, RUN_BOUND_CAP_HOURS))

    def __init__(self, *, bound_hours: float) -> None:
        self.event = threading.Event()
        self.reason: str | None = None
        self.bound_seconds = bound_hours * 3600
        self.on_signal: Callable[[str], None] | None = None
        """Called at the first signal with its name (the display says "stopping: …")."""

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
            name = signal.Signals(signum).name
            self.stop(name)
            if self.on_signal is not None:
                self.on_signal(name)

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
