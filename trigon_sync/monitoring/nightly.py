"""What ``run-monthly`` tells the monitoring, at the three moments that matter.

* an import day's work begins: ``start`` (Healthchecks then also measures the run);
* the command ends, however: success or the exit code (``<url>/5``), then the metrics;
* a night with nothing due: one success ping ("alive"), then the metrics, so a cron that
  stopped is noticed within a day.

The command builds a :class:`Watch` only when ``[monitoring]`` sets something (this module
and prometheus_client are imported only then: the ordinary night stays cheap). Whatever
goes wrong here is one ``warning:`` line through ``warn`` and never changes the run's exit
code; after the monitor failed once, the run does not wait for it again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from trigon_sync import redact
from trigon_sync.errors import TrigonSyncError
from trigon_sync.monitoring import last_ping, metrics
from trigon_sync.monitoring import ping as pings
from trigon_sync.schedule.rules import Run
from trigon_sync.settings.config import Config, MonitoringSettings

Warn = Callable[[str], None]
Now = Callable[[], dt.datetime]


@dataclass
class Watch:
    """One run-monthly's monitoring: pings through ``send``, metrics after the run."""

    config: Config
    warn: Warn
    now: Now
    send: pings.Send | None = None
    """Test seam for the HTTP call (default: httpx through http/session.py)."""
    silenced: bool = field(default=False, init=False)
    """The monitor failed once in this run: later pings are skipped, not waited for."""

    def __post_init__(self) -> None:
        if self.settings.ping_url is not None:
            redact.register(self.settings.ping_url)

    @property
    def settings(self) -> MonitoringSettings:
        return self.config.monitoring

    # -- the moments ----------------------------------------------------------------------

    def start(self) -> None:
        """An import day's work begins (the lock is taken, the connections are next)."""
        self._ping(pings.START, "trigon-sync run-monthly: started")

    def alive(self, today: dt.date) -> None:
        """A night with nothing due: cron ran, the tool works."""
        self._ping(pings.SUCCESS, "trigon-sync run-monthly: nothing due")
        self._metrics(today, 0)

    def finish(self, today: dt.date, code: int) -> None:
        """The command ends with ``code`` (0: success)."""
        self._ping(pings.exit_signal(code), _body(code))
        self._metrics(today, code)

    # -- pings ----------------------------------------------------------------------------

    def _ping(self, signal: str, body: str) -> None:
        url = self.settings.ping_url
        if url is None or self.silenced:
            return
        result = pings.ping(url, signal, body, send=self.send)
        last_ping.save(result, self.now())
        if not result.ok:
            self.silenced = True
            self.warn(
                f"could not ping {pings.shown(url)} ({result.name}): {result.detail}; "
                "the run goes on (docs/operations.md, monitoring)"
            )

    # -- metrics --------------------------------------------------------------------------

    def _metrics(self, today: dt.date, code: int) -> None:
        path = self.settings.metrics_file
        if path is None:
            return
        try:
            data = metrics.render(gather(self.config, today, self.now(), code))
            metrics.write(path, data)
        except (TrigonSyncError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.warn(f"could not write the metrics file {path}: {redact.scrub(reason)}")


def _body(code: int) -> str:
    """What the end ping carries for the monitor's log: the exit code, no names."""
    return f"trigon-sync run-monthly: exit {code}" + (
        " (see `trigon-sync history` and logs/trigon-sync.log)" if code else ""
    )


def gather(config: Config, today: dt.date, now: dt.datetime, code: int) -> metrics.Figures:
    """The figures of the metrics file, from the home as it is after the run."""
    from trigon_sync.store.state import load_state, load_view
    from trigon_sync.timeline.due import timeline_for

    view, state = load_view()
    last = view.last_monthly_run
    success = last if last is not None and last.result == "ok" else None
    if last is not None and success is None:  # rare: only after a run that was not ok
        history = (state or load_state()).history
        success = next((r for r in reversed(history) if r.is_monthly and r.result == "ok"), None)
    owed, pairs = 0, 0
    periods: set[str] = set()
    timeline = timeline_for(config, view, today)
    if timeline is not None:
        periods = {run.period for run in timeline.due}
        for run in timeline.due:
            pairs += view.linked - (_done(run) if run == timeline.open else 0)
    from trigon_sync.store import owed as owed_pairs

    if owed_pairs.any_owed():  # completed periods linked clients still owe (store/owed.py)
        linked = {link.trigon_id for link in (state or load_state()).links.values()}
        still = [p for p in owed_pairs.pairs() if p.firm in linked]
        pairs += len(still)
        periods |= {p.period for p in still}
    owed = len(periods)
    return metrics.Figures(
        invoked_at=now,
        exit_code=code,
        last_run=last,
        last_success=success,
        periods_owed=owed,
        client_periods_owed=max(0, pairs),
        linked=view.linked,
    )


def _done(run: Run) -> int:
    """Clients the open period's journal has finished (their task is written)."""
    from trigon_sync.store import journal

    try:
        entries = journal.PeriodJournal(run).load()
    except (OSError, TrigonSyncError):
        return 0
    return sum(1 for entry in entries.values() if entry.lost is None)
