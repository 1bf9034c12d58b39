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
