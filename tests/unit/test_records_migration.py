"""Old journal files move into the records database once, losslessly, and a crash
mid-way resumes without a duplicate row."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from trigon_sync.clock import TALLINN
from trigon_sync.schedule.rules import Run
from trigon_sync.store import paths, records_db, records_migration
from trigon_sync.store.journal import ClientIntents, Loss, PeriodJournal
from trigon_sync.store.state import locked_state

OCTOBER = Run(dt.date(2024, 10, 31), dt.date(2024, 10, 1), dt.date(2024, 10, 30), "2024-10")
NOVEMBER = Run(dt.date(2024, 11, 29), dt.date(2024, 10, 31), dt.date(2024, 11, 28), "2024-11")
SENT = dt.datetime(2024, 10, 31, 1, 0, 0, 250_000, tzinfo=TALLINN)


def window(run: Run) -> list[str]:
    return [run.window_start.isoformat(), run.window_end.isoformat()]


def old_home() -> dict[str, Path]:
    """The journal files a home written by the file-based versions holds, line for line
    in their writers' format (json.dumps with default spacing)."""
    journal = paths.journal_dir()
    journal.mkdir(parents=True)
    october, november = window(OCTOBER), window(NOVEMBER)
    done = [
        {"intent": "create", "firm": "f1", "client": 101, "window": october,
         "at": SENT.isoformat(timespec="microseconds")},
        {"firm": "f1", "client": 101, "task": 5001, "action": "create",
         "counts": {"payments_created": 2}, "window": october, "at": "2024-10-31T01:00:01+02:00"},
        {"firm": "f2", "client": 102, "task": 5002, "action": "exists", "counts": {},
         "window": october, "at": "2024-10-31T01:00:02+02:00"},
        {"firm": "f2", "client": 102, "gone": 5002, "moved_to": 109, "window": october,
         "at": "2024-11-05T01:00:00+02:00"},
    ]  # fmt: skip
    open_lines = [
        {"intent": "create", "firm": "f1", "client": 101, "window": november,
         "at": SENT.isoformat(timespec="microseconds")},
        {"firm": "f1", "client": 101, "task": 6001, "action": "create",
         "counts": {"payments_created": 3}, "window": november, "at": "2024-11-29T01:00:01+02:00"},
    ]  # fmt: skip
    files = {
        "done": journal / "2024-10.jsonl.done",
        "open": journal / "2024-11.jsonl",
        "clients": journal / "client-creates.jsonl",
    }
    files["done"].write_text("".join(json.dumps(d) + "\n" for d in done), encoding="utf-8")
    files["open"].write_text(
        "".join(json.dumps(d) + "\n" for d in open_lines) + '{"firm": "f2", "cl', encoding="utf-8"
    )
    files["clients"].write_text(
        json.dumps({"intent": "create", "firm": "f9", "code": "10000009",
                    "at": SENT.isoformat(timespec="microseconds")}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    return files


def assert_journals_read_as_before() -> None:
    """What the file readers answered for old_home(), now from the database."""
    october = PeriodJournal(OCTOBER, archived=True).load()
    assert october["f1"].task == 5001 and october["f1"].counts == {"payments_created": 2}
    assert october["f2"].lost == Loss(5002, 102, moved_to=109, at="2024-11-05T01:00:00+02:00")
    assert PeriodJournal(OCTOBER, archived=True).intents() == {"f1": SENT}
    assert PeriodJournal(OCTOBER).load() == {}  # the open period of October is empty
    november = PeriodJournal(NOVEMBER).load()
    assert list(november) == ["f1"] and november["f1"].task == 6001  # the torn line: skipped
    assert ClientIntents().load() == {"f9": SENT}


def test_the_first_writing_command_moves_every_journal_file_and_keeps_it() -> None:
    """Under the state lock, every line becomes a row; the files go to migrated-<date>/."""
    files = old_home()
    texts = {key: path.read_bytes() for key, path in files.items()}
    with locked_state():
        pass
    assert_journals_read_as_before()
    assert records_migration.legacy_files() == []
    [folder] = paths.home_dir().glob("migrated-*")
    for key, path in files.items():
        kept = folder / "journal" / path.name
        assert kept.read_bytes() == texts[key]
    with locked_state():  # idempotent: nothing left to move, nothing added
        pass
    db = records_db.shared()
    assert db is not None
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM task_events").fetchone()[0] == 6
        assert con.execute("SELECT sum(skipped) FROM migrated_files").fetchone()[0] == 1


def test_a_crash_mid_migration_resumes_without_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure while the second file is moved leaves the first one's rows and mark; the
    next command moves the rest, and every row is there exactly once."""
    old_home()
    seen: list[str] = []

    def die_on_second(name: str) -> None:
        seen.append(name)
        if len(seen) == 2:
            raise KeyboardInterrupt  # as a kill would, inside the file's transaction

    monkeypatch.setattr(records_migration, "before_commit_hook", die_on_second)
    with pytest.raises(KeyboardInterrupt):
        records_migration.migrate()
    db = records_db.shared()
    assert db is not None
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM migrated_files").fetchone()[0] == 1
    assert len(records_migration.legacy_files()) == 3  # nothing moved away before the end
    monkeypatch.setattr(records_migration, "before_commit_hook", None)
    moved = records_migration.migrate()
    assert moved is not None
    assert_journals_read_as_before()
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM task_events").fetchone()[0] == 6
        assert con.execute("SELECT count(*) FROM client_intents").fetchone()[0] == 1


def test_a_file_changed_after_it_was_moved_is_refused() -> None:
    """A marked file that reappears with other contents is not silently skipped."""
    files = old_home()
    records_migration.migrate()
    paths.ensure_dir(files["open"].parent)  # the emptied journal/ folder was removed
    files["open"].write_text('{"firm": "x"}\n', encoding="utf-8")
    with pytest.raises(records_migration.StateError, match="changed since it was moved"):
        records_migration.migrate()


def test_the_emptied_journal_folder_goes_and_one_with_other_files_stays() -> None:
    """Once its files are moved, nothing writes to journal/: an empty one is removed; a
    file someone left there (not a record file) keeps the folder, untouched."""
    old_home()
    with locked_state():
        pass
    assert not paths.journal_dir().exists()

    paths.ensure_dir(paths.journal_dir())
    (paths.journal_dir() / "2024-12.jsonl").write_text("", encoding="utf-8")
    (paths.journal_dir() / "notes.txt").write_text("mine", encoding="utf-8")
    records_migration.migrate()
    assert [p.name for p in paths.journal_dir().iterdir()] == ["notes.txt"]
