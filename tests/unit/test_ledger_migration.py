"""An old home's ledger.jsonl moves into the records database once, line for line, and a
crash mid-way resumes without a duplicate row; schema 1's ledger table moves to schema 2."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trigon_sync.store import ledger, paths, records_db, records_migration
from trigon_sync.store.state import locked_state

MAP = [["sales_invoices_created", "Sales invoices"], ["payments_created", "Payments"]]
RENAMED = [["payments_created", "Maksed"]]
FID, RENAMED_FID = (
    ledger.fields_id(tuple(map(tuple, MAP))),
    ledger.fields_id(tuple(map(tuple, RENAMED))),
)
AT = "2024-10-31T00:30:00+02:00"


def compact(value: Any) -> str:
    """A line as the file-based writer wrote it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def old_ledger() -> Path:
    """A ledger.jsonl as the file-based versions left it: two mappings, a re-count (the
    newer line wins), an acceptance, a line in another JSON layout (a hand repair), and
    what no reader ever used: garbage, a write before its mapping, a torn last line."""
    early, alfa, beeta = ("10000000", "Early OÜ"), ("10000001", "Alfa OÜ"), ("10000002", "Beeta AS")
    lines = [
        compact(["w", "2024-09", "f0", *early, 100, 900, "create", FID, [1, 1], AT]),
        compact({"fields": {"id": FID, "map": MAP}}),
        compact(["w", "2024-10", "f1", *alfa, 101, 5001, "create", FID, [3, 1], AT]),
        compact(["w", "2024-10", "f2", *beeta, 102, 5002, "create", FID, [0, 0], AT]),
        "not json\n",
        compact(["w", "2024-10", "f1", *alfa, 101, 5003, "update", FID, [4, 1], AT]),
        compact(["a", "2024-11", "f2", AT]),
        json.dumps({"fields": {"id": RENAMED_FID, "map": RENAMED}}) + "\n",
        json.dumps(["w", "2024-11", "f1", "10000001", "Alfa OÜ", 101, 6001, "create",
                    RENAMED_FID, [7], AT]) + "\n",
        '["w","2024-12","f1","10000001","Al',
    ]  # fmt: skip
    path = paths.ledger_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def assert_ledger_reads_as_before() -> None:
    """What the file reader answered for old_ledger(), now from the database."""
    book = ledger.load()
    assert sorted(book.writes) == [("f1", "2024-10"), ("f1", "2024-11"), ("f2", "2024-10")]
    recount = book.writes[("f1", "2024-10")]
    assert (recount.task, recount.action) == (5003, "update")
    assert recount.counts == {"sales_invoices_created": 4, "payments_created": 1}
    assert recount.names == {
        "sales_invoices_created": "Sales invoices",
        "payments_created": "Payments",
    }
    assert book.writes[("f1", "2024-11")].names == {"payments_created": "Maksed"}
    assert book.writes[("f1", "2024-11")].values == (7,)
    assert book.accepted == {("f2", "2024-11")}
    assert ledger.newest_period() == "2024-11"
    assert ledger.mappings_used(since="2024-10", until="2024-11") == [
        (("sales_invoices_created", "payments_created"), ("Sales invoices", "Payments")),
        (("payments_created",), ("Maksed",)),
    ]


def counts() -> tuple[int, int, int, int]:
    db = records_db.shared()
    assert db is not None
    with db.read() as con:
        return tuple(  # type: ignore[return-value]  # four counts
            con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
            for table in ("ledger_writes", "ledger_accepts", "field_maps", "migrated_files")
        )


def test_the_first_writing_command_moves_the_ledger_and_keeps_the_file() -> None:
    """Every line a reader used becomes a row, in file order; the file goes to the
    migrated folder byte for byte; a second command moves nothing again."""
    path = old_ledger()
    text = path.read_bytes()
    with locked_state():
        pass
    assert not path.exists() and records_migration.legacy_files() == []
    [folder] = paths.home_dir().glob("migrated-*")
    assert (folder / "ledger.jsonl").read_bytes() == text
    assert_ledger_reads_as_before()
    assert counts() == (4, 1, 2, 1)
    db = records_db.shared()
    assert db is not None
    with db.read() as con:
        assert con.execute("SELECT skipped FROM migrated_files").fetchone()[0] == 3
    with locked_state():  # idempotent
        pass
    assert counts() == (4, 1, 2, 1)


def test_a_crash_mid_ledger_resumes_without_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill inside the ledger file's transaction leaves none of its rows and no mark;
    the next command moves it whole, once."""
    old_ledger()

    def die(name: str) -> None:
        raise KeyboardInterrupt  # as a kill would, inside the file's transaction

    monkeypatch.setattr(records_migration, "before_commit_hook", die)
    with pytest.raises(KeyboardInterrupt):
        records_migration.migrate()
    assert counts() == (0, 0, 0, 0)
    assert records_migration.legacy_files() == [paths.ledger_file()]
    monkeypatch.setattr(records_migration, "before_commit_hook", None)
    records_migration.migrate()
    assert_ledger_reads_as_before()
    assert counts() == (4, 1, 2, 1)


def test_readers_of_an_old_home_move_the_ledger_first() -> None:
    """``report``'s and ``status``'s readers on a home no command has written since the
    upgrade: ensure_migrated moves the file in, so they never show an empty ledger."""
    old_ledger()
    records_migration.ensure_migrated()
    assert_ledger_reads_as_before()


def test_a_schema_1_ledger_table_moves_to_schema_2(isolated_home: Path) -> None:
    """A database written with schema 1 (one ``ledger`` table) keeps every row."""
    paths.ensure_home()
    path = records_db.db_file()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN")
    records_db.MIGRATIONS[0](con)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO field_maps VALUES (?, ?)", (FID, json.dumps(MAP)))
    con.execute(
        "INSERT INTO ledger (kind, period, firm, code, name, uku_client, task, action,"
        " fields_id, counts, at) VALUES ('w', '2024-10', 'f1', '1', 'Alfa OÜ', 101, 5001,"
        " 'create', ?, '[3,1]', ?)",
        (FID, AT),
    )
    con.execute(
        "INSERT INTO ledger (kind, period, firm, at) VALUES ('a', '2024-11', 'f2', ?)", (AT,)
    )
    con.execute("COMMIT")
    con.close()
    records_db.forget_shared()
    records_db.open_db().close()
    book = ledger.load()
    assert book.writes[("f1", "2024-10")].values == (3, 1)
    assert book.accepted == {("f2", "2024-11")}
    with sqlite3.connect(path) as check:
        tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "ledger" not in tables
        assert check.execute("PRAGMA user_version").fetchone()[0] == records_db.SCHEMA_VERSION
