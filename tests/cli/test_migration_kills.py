"""SIGKILL while an old home's records move into the database: the next command completes
the move, and every record is there exactly once.

The old home holds every kind of record file (journals, client intents, ledger.jsonl).
A child process runs `report --format csv` (a reader: it moves the files first) and is
killed with SIGKILL by its own hand after the N-th row inserted, or before the N-th file
is moved to the migrated folder; then a plain `report --format csv` must print what it
prints on the same home migrated without a kill, and the database must hold the same
rows.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.unit.test_ledger_migration import old_ledger
from tests.unit.test_records_migration import old_home
from trigon_sync.store import paths

KILLER = """
import os, pathlib, signal, sys
from trigon_sync.store import records_migration

kind, at = sys.argv[1], int(sys.argv[2])
seen = 0


def tick():
    global seen
    seen += 1
    if seen == at:
        os.kill(os.getpid(), signal.SIGKILL)


if kind == "rows":
    class Counting:
        def __init__(self, con):
            self.con = con

        def execute(self, *args):
            found = self.con.execute(*args)
            tick()
            return found

    real_import = records_migration._import
    records_migration._import = lambda con, path: real_import(Counting(con), path)
else:
    real_replace = pathlib.Path.replace

    def replace(self, target):
        tick()
        return real_replace(self, target)

    pathlib.Path.replace = replace

from trigon_sync.cli.app import main

sys.argv = ["trigon-sync", "report", "--format", "csv"]
main()
"""

TABLES = ("ledger_writes", "ledger_accepts", "field_maps", "task_events", "client_intents")


def _report(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, timeout=120, env=dict(os.environ)
    )


def _rows() -> dict[str, list[tuple[object, ...]]]:
    """Every migrated row, without its sequence number (the order of the files is kept)."""
    found: dict[str, list[tuple[object, ...]]] = {}
    with sqlite3.connect(paths.records_file()) as con:
        for table in TABLES:
            rows = con.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed names
            found[table] = [row[1:] if table != "field_maps" else row for row in rows]
        (marks,) = con.execute("SELECT count(*) FROM migrated_files").fetchone()
    found["marks"] = [(marks,)]
    return found


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[bytes, dict[str, list[tuple[object, ...]]]]:
    """The report and the rows of the old home migrated without a kill."""
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("reference") / "home"
        patch.setenv(paths.ENV_HOME, str(home))
        old_home()
        old_ledger()
        done = _report("-m", "trigon_sync", "report", "--format", "csv")
        assert done.returncode == 0, done.stderr
        return done.stdout, _rows()


# (what is counted, the N-th of it that dies). The home's 14 rows: ledger.jsonl first
# (rows 1-7: its mappings, writes and acceptance), then the journal files (8-14). Moves:
# its 4 files go to the migrated folder one by one, after every row is committed.
POINTS = [("rows", n) for n in (1, 2, 4, 7, 8, 10, 13, 14)] + [("moves", n) for n in (1, 2, 4)]


@pytest.mark.parametrize(("kind", "at"), POINTS, ids=[f"{k}-{n}" for k, n in POINTS])
def test_a_killed_migration_is_completed_by_the_next_command(
    kind: str, at: int, reference: tuple[bytes, dict[str, list[tuple[object, ...]]]]
) -> None:
    old_home()
    old_ledger()
    killed = _report("-c", KILLER, kind, str(at))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = _report("-m", "trigon_sync", "report", "--format", "csv")
    assert again.returncode == 0, again.stderr
    report, rows = reference
    assert again.stdout == report
    assert _rows() == rows  # nothing lost, nothing doubled
    assert not paths.ledger_file().exists() and not any(paths.journal_dir().glob("*.jsonl*"))
    [folder] = paths.home_dir().glob("migrated-*")
    assert (folder / "ledger.jsonl").is_file()
    shutil.rmtree(paths.home_dir())
