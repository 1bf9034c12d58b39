"""A records database another process keeps locked: the run waits the bounded time its
message names, once, then exit 6 (busy); the dry run exits as the real run would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tests.cli import test_run_monthly as base
from tests.cli.sandbox_home import Invoke
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running
from trigon_sync.store import paths, records_db

seed = base.seed  # the 20-firm world and fully set-up home of test_run_monthly
ready = base.ready
summary_tasks = base.summary_tasks

WAIT = 0.5


@pytest.fixture
def locked(ready: Running, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """Another process holds the records database's write lock (not the state lock)."""
    monkeypatch.setattr(records_db, "busy_timeout_seconds", WAIT)
    records_db.shared(create=True)
    records_db.forget_shared()
    other = sqlite3.connect(paths.records_file(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield ready
    finally:
        other.rollback()
        other.close()
        records_db.forget_shared()


def test_the_run_waits_once_the_time_it_names_then_exits_busy(
    cli: Invoke, locked: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight workers' intents and the run record do not each wait: one bounded wait."""
    waits: list[bool] = []  # per BEGIN that met the lock: whether it waited for it
    real_begin = records_db.Database._begin

    def begin(db: records_db.Database, wait_seconds: float | None) -> None:
        waiting = not db.waited_out and wait_seconds != 0
        try:
            real_begin(db, wait_seconds)
        except sqlite3.OperationalError:
            waits.append(waiting)
            raise

    monkeypatch.setattr(records_db.Database, "_begin", begin)
    result = cli("run-monthly", "--today", "31.10.2024", "--workers", "8")
    assert result.exit_code == ExitCode.BUSY, result.output
    assert f"stayed locked by another trigon-sync process for {WAIT:g} s" in result.stderr
    assert waits.count(True) == 1, waits  # was one wait per worker and one for the run record
    assert summary_tasks(locked) == []


def test_the_dry_run_exits_busy_as_the_real_run_would(cli: Invoke, locked: Running) -> None:
    """Exit 6 (not the dry run's own 5 for the pairs that would fail), one line, nothing
    written."""
    before = paths.records_file().read_bytes()
    result = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    assert result.exit_code == ExitCode.BUSY, result.output
    assert "stayed locked" in result.stderr
    assert paths.records_file().read_bytes() == before


def test_the_dry_run_exits_busy_while_another_run_holds_the_state_lock(
    cli: Invoke, ready: Running
) -> None:
    """The real run would stop on the state lock at once: so does the dry run."""
    from trigon_sync.store.lock import exclusive_lock

    with exclusive_lock():
        dry = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    assert dry.exit_code == ExitCode.BUSY, dry.output
    assert "another trigon-sync run is in progress" in dry.stderr
