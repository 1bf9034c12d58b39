"""``doctor``'s checks of the monitoring (``[monitoring]``): the ping URL answers, the
metrics file can be written, and the last ping and metrics are as fresh as a nightly
cron job leaves them.

The URL is checked with Healthchecks' ``/log`` signal, which the monitor records without
counting it as the nightly ping: a doctor run by hand never hides a dead cron job. The
URL is never in a detail or fix (ping.shown names only its host).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

from trigon_sync.clock import TALLINN
from trigon_sync.dates import format_ee_time
from trigon_sync.errors import ExitCode
from trigon_sync.health.checks import Check, failed, named, passed, warned
from trigon_sync.monitoring import last_ping
from trigon_sync.settings.config import Config

if TYPE_CHECKING:
    from trigon_sync.monitoring.ping import Send

NIGHTLY_GRACE = dt.timedelta(hours=26)
"""The job runs every night (00:30); two hours more than a day before a ping is late."""
NOT_SET = "not set in [monitoring] (optional; docs/operations.md, monitoring)"


def ping_check(config: Config, send: Send | None = None) -> Check:
    """The monitor answers a ``/log`` ping (a warning when not: the run never fails on it)."""
    name, title = named("monitoring.ping")
    url = config.monitoring.ping_url
    if url is None:
        return passed(name, title, NOT_SET)
    from trigon_sync.monitoring import ping as pings

    result = pings.ping(url, pings.LOG, "trigon-sync doctor: checking the ping URL", send=send)
    where = pings.shown(url)
    if result.ok:
        return passed(name, title, f"{where} {result.detail}")
    return warned(
        name,
        title,
        f"{where}: {result.detail}",
        "check [monitoring] ping_url and that this machine reaches the monitor (proxy, "
        "firewall); the nightly run goes on without it, with one warning line",
    )


def metrics_check(config: Config) -> Check:
    """The nightly run can replace the metrics file (its directory exists and is writable)."""
    name, title = named("monitoring.metrics")
    path = config.monitoring.metrics_file
    if path is None:
        return passed(name, title, NOT_SET)
    directory = path.parent
    if not directory.is_dir():
        return failed(
            name,
            title,
            f"{directory} does not exist",
            "create it (node_exporter's --collector.textfile.directory), or fix "
            "[monitoring] metrics_file",
            ExitCode.CONFIG,
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        return failed(
            name,
            title,
            f"{directory} is not writable by this user",
            f"let the user cron runs as write there (e.g. chgrp and chmod g+w {directory})",
            ExitCode.CONFIG,
        )
    return passed(name, title, str(path))


def _modified(path: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=TALLINN)
    except OSError:
        return None


def recent_check(config: Config, now: dt.datetime) -> Check:
    """The last ping and metrics are younger than a nightly job allows (26 h)."""
    name, title = named("monitoring.recent")
    settings = config.monitoring
    if not settings.enabled:
        return passed(name, title, "no monitoring set: nothing to check")
    found: list[str] = []
    late: list[str] = []
    trouble: list[str] = []
    if settings.ping_url is not None:
        last = last_ping.load()
        if last is None:
            trouble.append("no ping sent yet (the next run-monthly sends one)")
        else:
            found.append(f"last ping {format_ee_time(last.at.isoformat())} ({last.signal})")
            if now - last.at > NIGHTLY_GRACE:
                late.append("ping")
            if not last.ok:
                trouble.append(f"the monitor did not take it: {last.detail}")
    if settings.metrics_file is not None:
        written = _modified(settings.metrics_file)
        if written is None:
            trouble.append("no metrics file yet (the next run-monthly writes it)")
        else:
            found.append(f"metrics written {format_ee_time(written.isoformat())}")
            if now - written > NIGHTLY_GRACE:
                late.append("metrics")
    detail = "; ".join(found + trouble) or "nothing recorded yet"
    if late:
        return failed(
            name,
            title,
            f"{' and '.join(late)} older than 26 h: run-monthly has not run every night ({detail})",
            "check that the cron job or systemd timer is installed and runs "
            "(`trigon-sync schedule --cron` / `--systemd` prints it; logs/trigon-sync.log "
            "has a line for every night)",
            ExitCode.CONFIG,
        )
    if trouble:
        return warned(name, title, detail, "see logs/trigon-sync.log for the nightly runs")
    return passed(name, title, detail)


def monitoring_checks(config: Config, now: dt.datetime, send: Send | None = None) -> list[Check]:
    return [ping_check(config, send), metrics_check(config), recent_check(config, now)]
