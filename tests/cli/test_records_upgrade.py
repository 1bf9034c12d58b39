"""A home written by the file-based versions answers the same after the upgrade: the
first command that reads or writes records moves the old journal files into the database."""

from __future__ import annotations

import datetime as dt
import json

from tests.cli.sandbox_home import Invoke
from tests.unit.test_records_migration import NOVEMBER, OCTOBER, old_home
from trigon_sync.records import periods as period_record
from trigon_sync.store import paths, records_migration
from trigon_sync.store.state import ClientLink, locked_state

AT = dt.datetime(2024, 10, 31, 1, 0, tzinfo=dt.UTC)


def test_explain_on_an_unmigrated_home_reads_the_old_journals(cli: Invoke) -> None:
    """`explain` right after the upgrade, before any run: the task of the old journal file
    is found, and the file is kept in migrated-<date>/."""
    with locked_state() as session:
        session.state.links["f1"] = ClientLink(
            "f1", "10137319", "Alpha OÜ", 101, OCTOBER.window_start
        )
        period_record.mark_completed(session.state, OCTOBER, AT, clients=2)
        period_record.mark_open(session.state, NOVEMBER, AT)
        session.save()
    old_home()  # the files the previous version left beside that state
    result = cli("explain", "f1", "--period", "2024-10", "--json")
    assert result.exit_code == 0, result.output
    [answer] = json.loads(result.stdout)["periods"]
    assert (answer["verdict"], answer["task_id"]) == ("task", 5001)
    assert records_migration.legacy_files() == []
    assert list(paths.home_dir().glob("migrated-*/journal/2024-10.jsonl.done"))


WELL_FORMED = """\
schema_version = 1
last_period_end = 2024-10-30
last_period = "2024-10"

[[history]]
at = "2024-10-31T00:40:00+02:00"
command = "run-monthly"
result = "partial"
today = 2024-10-31
periods = ["2024-10"]
complete = []
clients_ok = 1
clients_failed = 1
failures = [{ firm = "f2", name = "Beeta AS", registration_code = "10000002", reason = "x" }]
tasks_created = 1
tasks_updated = 0
duration_seconds = 1.5
requests = { uku = { total = 12, rate_limited = 0 } }

[[history]]
at = "2024-11-02T10:05:00+02:00"
command = "confirm"
result = "ok"
created = 1
"""


def test_history_and_state_show_json_are_identical_after_the_history_moves(
    cli: Invoke,
) -> None:
    """`history --json --all` and `state show --json` print the same before and after
    the first writing command moves state.toml's history into the database."""
    paths.ensure_home()
    paths.state_file().write_text(WELL_FORMED, encoding="utf-8")
    commands = [
        ("history", "--json", "--all"),
        ("history", "--json", "--limit", "1"),
        ("history",),
        ("state", "show", "--json"),
    ]
    before = [cli(*args) for args in commands]
    assert [r.exit_code for r in before] == [0] * 4, [r.output for r in before]
    with locked_state():
        pass
    assert "history" not in paths.state_file().read_text(encoding="utf-8")
    after = [cli(*args) for args in commands]
    assert [r.stdout for r in after] == [r.stdout for r in before]
    assert json.loads(before[0].stdout)["total"] == 2
    assert json.loads(before[1].stdout)["total"] == 1  # run-monthly records only
