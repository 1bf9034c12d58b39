"""The Prometheus textfile-collector file: what the nightly run did, for node_exporter.

resticprofile's way: after every run (a night with nothing due too) one ``*.prom`` file
is replaced whole (store/atomic.py: never half a file for the collector to read), with
the newest ``run-monthly`` record of the history as ``history --json`` shows it, the
periods still owed, and this invocation's time and exit code. Alert on
``time() - trigon_sync_run_timestamp_seconds > 26*3600`` (cron stopped) and on
``trigon_sync_periods_owed > 0`` (docs/operations.md lists every metric).

The file is mode 0644: node_exporter runs as its own user. It holds counts and times only
(no client name, no URL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trigon_sync.clock import TALLINN
from trigon_sync.records.tables import RunRecord

PREFIX = "trigon_sync"
OUTCOMES = ("ok", "partial", "failed")
SERVICES = ("trigon", "uku")
FILE_MODE = 0o644


@dataclass(frozen=True)
class Figures:
    """Everything one metrics file says; made by monitoring/nightly.py from the home."""

    invoked_at: dt.datetime
    exit_code: int
    last_run: RunRecord | None
    """The newest run-monthly record of the history (None: no run yet)."""
    last_success: RunRecord | None
    """The newest one whose result is ``ok``."""
    periods_owed: int
    client_periods_owed: int
    linked: int


def _number(details: Mapping[str, Any], key: str) -> float | None:
    value = details.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _import_day(record: RunRecord) -> float | None:
    """The import day a run ran as (its ``today``), as the epoch of 00:00 Tallinn."""
    try:
        day = dt.date.fromisoformat(str(record.details.get("today")))
    except ValueError:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=TALLINN).timestamp()


def render(figures: Figures) -> bytes:
    """The file's text in Prometheus' exposition format (prometheus_client writes it)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()

    def gauge(name: str, doc: str, value: float | None, **labels: str) -> None:
        if value is None:
            return
        metric = Gauge(f"{PREFIX}_{name}", doc, list(labels), registry=registry)
        (metric.labels(**labels) if labels else metric).set(value)

    gauge(
        "run_timestamp_seconds",
        "When run-monthly last ran (every night, also with nothing due).",
        figures.invoked_at.timestamp(),
    )
    gauge("run_exit_code", "The exit code of that run-monthly.", figures.exit_code)
    gauge(
        "periods_owed",
        "Import periods due and not yet complete, or owed by a linked client.",
        figures.periods_owed,
    )
    gauge(
        "client_periods_owed",
        "(client, period) pairs due or owed whose summary task is not written yet.",
        figures.client_periods_owed,
    )
    gauge("linked_clients", "Trigon firms linked to an Uku client.", figures.linked)
    success = figures.last_success
    if success is not None:
        gauge(
            "last_success_timestamp_seconds",
            "When the newest run-monthly with result ok ran.",
            success.at_time.timestamp() if success.at_time else None,
        )
        gauge(
            "last_successful_import_day_timestamp_seconds",
            "The import day (00:00 Tallinn) of the newest run-monthly with result ok.",
            _import_day(success),
        )
    run = figures.last_run
    if run is not None:
        _last_run(registry, run)
    return generate_latest(registry)


def _last_run(registry: Any, run: RunRecord) -> None:
    """The newest run-monthly record, figure by figure as ``history --json`` shows it."""
    from prometheus_client import Gauge

    details = run.details
    plain = (
        ("timestamp_seconds", "When the newest recorded run-monthly ran.", None),
        ("duration_seconds", "How long it took.", "duration_seconds"),
        ("clients_ok", "Clients it did.", "clients_ok"),
        ("clients_failed", "Clients that failed in it.", "clients_failed"),
        ("tasks_created", "Summary tasks it created in Uku.", "tasks_created"),
        ("tasks_updated", "Summary tasks it updated in Uku.", "tasks_updated"),
        ("periods", "Periods it worked on.", None),
    )
    for name, doc, key in plain:
        if name == "timestamp_seconds":
            value = run.at_time.timestamp() if run.at_time else None
        elif name == "periods":
            value = float(len(run.periods))
        else:
            value = _number(details, key or name)
        if value is not None:
            Gauge(f"{PREFIX}_last_run_{name}", doc, registry=registry).set(value)
    outcome = Gauge(
        f"{PREFIX}_last_run_outcome",
        "1 for the newest run-monthly's result (ok, partial, failed), 0 for the others.",
        ["outcome"],
        registry=registry,
    )
    for name in OUTCOMES:
        outcome.labels(outcome=name).set(1.0 if run.result == name else 0.0)
    requests = details.get("requests")
    if not isinstance(requests, Mapping):
        return  # recorded by a trigon-sync before 0.2
    sent = Gauge(
        f"{PREFIX}_last_run_requests",
        "Requests it sent, per service.",
        ["service"],
        registry=registry,
    )
    limited = Gauge(
        f"{PREFIX}_last_run_rate_limited_requests",
        "Answers 429 (rate limited) it got, per service.",
        ["service"],
        registry=registry,
    )
    for service in SERVICES:
        figures = requests.get(service)
        if not isinstance(figures, Mapping):
            continue
        total = _number(figures, "total")
        if total is not None:
            sent.labels(service=service).set(total)
        rate_limited = _number(figures, "rate_limited")
        if rate_limited is not None:
            limited.labels(service=service).set(rate_limited)


def write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, readable by node_exporter (0644).

    The directory must exist (it is node_exporter's, not ours to create); OSError else.
    """
    from trigon_sync.store import atomic

    with atomic.replacing(path, before_replace=lambda temp: temp.chmod(FILE_MODE)) as handle:
        handle.write(data)
