"""SIGKILL while an old home's records move into the database: the next command completes
the move, and every record is there exactly once.

The old home holds every kind of record file (journals, client intents, ledger.jsonl).
``report --format csv`` (a reader: it moves the files first) runs once unkilled, counting
its points (tests/kill_points.py: each statement of the database's creation, each row
inserted, each ``migrated_files`` mark, each COMMIT, each file moved to the migrated
folder); 20 of them are drawn with a fixed seed, at least one of each kind. At each, a
fresh copy of the old home is migrated by a ``report`` that kills itself there; then a
plain ``report --format csv`` must print what the unkilled one printed, and the database
must hold the same rows.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.kill_points import Done, ForkedCli, Point, kill_seed, pick
from tests.unit.test_ledger_migration import old_ledger
from tests.unit.test_records_migration import old_home
from trigon_sync.store import paths

TABLES = ("ledger_writes", "ledger_accepts", "field_maps", "task_events", "client_intents")
KILLS = 20
KINDS = (
    "sql INSERT INTO task_events",  # a row
    "sql INSERT INTO ledger_writes",  # a row of ledger.jsonl
    "sql INSERT INTO migrated_files",  # a file's mark
    "sql COMMIT",
    "replace",  # a file moved into the migrated folder
)
REPORT = ("report", "--format", "csv")

Rows = dict[str, list[tuple[object, ...]]]


def _rows(home: Path) -> Rows:
    """Every migrated row, without its sequence number (the order of the files is kept)."""
    found: Rows = {}
    with contextlib.closing(sqlite3.connect(home / paths.records_file().name)) as con:
        for table in TABLES:
            rows = con.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed names
            found[table] = [row[1:] if table != "field_maps" else row for row in rows]
        (marks,) = con.execute("SELECT count(*) FROM migrated_files").fetchone()
    found["marks"] = [(marks,)]
    return found


def _old_home(home: Path) -> dict[str, str]:
    """The old home's files in ``home``; the environment a command there runs in."""
    env = {**os.environ, paths.ENV_HOME: str(home)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(paths.ENV_HOME, str(home))
        old_home()
        old_ledger()
    return env


@pytest.fixture(scope="module")
def reference(forked_cli: ForkedCli, tmp_path_factory: pytest.TempPathFactory) -> tuple[Done, Rows]:
    """The unkilled migration: its report, its rows, and every point it passed."""
    home = tmp_path_factory.mktemp("reference") / "home"
    done = forked_cli.run(*REPORT, env=_old_home(home))
    assert done.code == 0, done.stderr
    return done, _rows(home)


@pytest.fixture(scope="module")
def points(reference: tuple[Done, Rows]) -> list[Point]:
    return pick(reference[0].points, KILLS, kill_seed(), must=KINDS)


@pytest.mark.parametrize("n", range(KILLS), ids=[f"kill-{n + 1:02d}" for n in range(KILLS)])
def test_a_killed_migration_is_completed_by_the_next_command(
    n: int,
    forked_cli: ForkedCli,
    reference: tuple[Done, Rows],
    points: list[Point],
    tmp_path: Path,
) -> None:
    """Killed at a drawn point of the move, the next command completes it losslessly."""
    home = tmp_path / "old-home"
    env = _old_home(home)
    at = points[n]
    killed = forked_cli.run(*REPORT, env=env, kill_at=at)
    where = f"killed at {at[0]} #{at[1]}"
    assert killed.code == -signal.SIGKILL, (where, killed.stderr)
    again = forked_cli.run(*REPORT, env=env)
    assert again.code == 0, (where, again.stderr)
    report, rows = reference
    assert again.stdout == report.stdout, where
    assert _rows(home) == rows, where  # nothing lost, nothing doubled
    assert not (home / "ledger.jsonl").exists() and not any(home.glob("journal/*.jsonl*"))
    [folder] = home.glob("migrated-*")
    assert (folder / "ledger.jsonl").is_file()
