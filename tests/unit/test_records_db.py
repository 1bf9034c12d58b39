"""The records database: durable settings, a schema version, loud refusals, bounded waits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trigon_sync.errors import BusyError, ExitCode, StateError
from trigon_sync.store import records_db


def test_a_new_database_is_wal_full_sync_current_schema_and_private() -> None:
    """The first open creates the schema in WAL mode, durable at each commit, mode 0600."""
    db = records_db.open_db()
    with db.read() as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert con.execute("PRAGMA user_version").fetchone()[0] == records_db.SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "task_events",
        "client_intents",
        "ledger_writes",
        "ledger_accepts",
        "run_history",
        "client_periods",
    } <= tables
    assert db.path.stat().st_mode & 0o777 == 0o600
    db.close()


def test_reading_a_home_without_a_database_creates_nothing() -> None:
    """Read-only commands leave a home without records as they found it."""
    assert records_db.open_existing() is None
    assert not records_db.db_file().exists()


def test_a_transaction_that_raises_leaves_nothing() -> None:
    """A change that must hold together is all there or not at all."""
    db = records_db.open_db()
    with pytest.raises(RuntimeError), db.transaction() as con:
        con.execute("INSERT INTO meta VALUES ('a', '1')")
        raise RuntimeError
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM meta").fetchone()[0] == 0


def test_a_newer_schema_is_refused_and_left_untouched() -> None:
    """A database from a newer trigon-sync is never read or rewritten by an older one."""
    records_db.open_db().close()
    path = records_db.db_file()
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version = {records_db.SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    for opener in (records_db.open_db, records_db.open_existing):
        with pytest.raises(StateError, match="newer trigon-sync") as caught:
            opener()
        assert caught.value.exit_code == ExitCode.STATE
    assert path.read_bytes() == before


def test_a_corrupt_file_is_refused_and_never_recreated_empty(isolated_home: Path) -> None:
    """A file that is not a database is refused, not replaced by an empty database that
    would forget every announced create."""
    isolated_home.mkdir(parents=True)
    path = records_db.db_file()
    path.write_bytes(b"this is not sqlite" * 300)
    for opener in (records_db.open_db, records_db.open_existing):
        with pytest.raises(StateError, match="corrupt") as caught:
            opener()
        assert "restore it from a backup" in (caught.value.hint or "")
    assert path.read_bytes() == b"this is not sqlite" * 300


def test_a_foreign_database_without_our_version_is_refused(isolated_home: Path) -> None:
    """A SQLite file with tables but no schema version is not ours: refused, untouched."""
    isolated_home.mkdir(parents=True)
    with sqlite3.connect(records_db.db_file()) as con:
        con.execute("CREATE TABLE other (x)")
    with pytest.raises(StateError, match="no trigon-sync schema version"):
        records_db.open_db()


def test_a_locked_database_waits_a_bounded_time_then_says_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process holding the write lock makes a writer wait, then fail with exit 6."""
    records_db.open_db().close()
    monkeypatch.setattr(records_db, "busy_timeout_seconds", 0.2)
    other = sqlite3.connect(records_db.db_file(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        db = records_db.open_db()
        with pytest.raises(BusyError, match="stayed locked") as caught, db.transaction() as con:
            con.execute("INSERT INTO meta VALUES ('a', '1')")
        assert caught.value.exit_code == ExitCode.BUSY
    finally:
        other.rollback()
        other.close()


def test_an_older_schema_is_migrated_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each open brings an older database up to the current version, one step at a time."""
    records_db.open_db().close()
    monkeypatch.setattr(records_db, "SCHEMA_VERSION", records_db.SCHEMA_VERSION + 1)
    monkeypatch.setitem(
        records_db.MIGRATIONS,
        records_db.SCHEMA_VERSION - 1,
        lambda con: con.execute("CREATE TABLE added (x)"),
    )
    db = records_db.open_existing()
    assert db is not None
    with db.read() as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == records_db.SCHEMA_VERSION
        con.execute("SELECT x FROM added")
