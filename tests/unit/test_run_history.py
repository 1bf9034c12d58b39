"""state.toml's run history moves into the records database once, losslessly, on the first
writing command; a kill in the middle never loses or doubles a record."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import pytest

from trigon_sync.store import paths, records_db, run_history
from trigon_sync.store.state import load_state, locked_state

OLD_STATE = """\
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
failures = [{ firm = "f2", name = "Beeta AS", reason = "no View permission" }, "f3"]
requests = { uku = { total = 12, rate_limited = 0 } }

[[history]]
at = "2024-11-02T10:05:00+02:00"
command = "confirm"
result = "ok"
created = 1

[[history]]
at = 5
"""
AT = dt.datetime(2024, 11, 30, 1, 0, tzinfo=dt.UTC)


class Killed(BaseException):
    """Stands in for the process dying."""


@pytest.fixture
def old_home() -> list[dict[str, object]]:
    """A home a file-based version wrote, and its history as state.toml holds it."""
    paths.ensure_home()
    paths.state_file().write_text(OLD_STATE, encoding="utf-8")
    history: list[dict[str, object]] = tomllib.loads(OLD_STATE)["history"]
    return history


def documents() -> list[dict[str, object]]:
    return [record.to_document() for record in load_state().history]


def test_a_read_only_command_reads_the_old_history_and_changes_nothing(
    old_home: list[dict[str, object]],
) -> None:
    """Before any writing command the records are read from state.toml as they are."""
    assert documents() == old_home
    assert not paths.records_file().exists()


def test_the_first_writing_command_moves_the_history_and_keeps_the_old_file(
    old_home: list[dict[str, object]],
) -> None:
    """Every record (a TOML date, nested tables and an odd one included) reads back equal;
    state.toml no longer holds them, and the old state.toml is kept in migrated-<date>/."""
    with locked_state() as session:
        session.state.record(AT, "ignore", "ok", firm="f9")
        session.save()
    assert documents()[:3] == old_home
    assert documents()[3]["command"] == "ignore"
    assert "history" not in tomllib.loads(paths.state_file().read_text(encoding="utf-8"))
    [kept] = paths.home_dir().glob("migrated-*/state.toml")
    assert kept.read_text(encoding="utf-8") == OLD_STATE
    assert isinstance(load_state().history[0].details["today"], dt.date)


def test_a_kill_after_the_commit_leaves_no_record_twice(
    old_home: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the records went in but before state.toml was saved without them: the
    next command drops them from state.toml without adding them again."""
    real_adopt = run_history.adopt

    def adopt_then_die(records: list[object], at: str) -> bool:
        real_adopt(records, at)  # type: ignore[arg-type]
        raise Killed

    monkeypatch.setattr(run_history, "adopt", adopt_then_die)
    with pytest.raises(Killed), locked_state():
        pass
    monkeypatch.setattr(run_history, "adopt", real_adopt)
    assert "history" in tomllib.loads(paths.state_file().read_text(encoding="utf-8"))
    assert documents() == old_home  # read once, though both places hold them
    with locked_state():
        pass
    assert documents() == old_home
    assert "history" not in tomllib.loads(paths.state_file().read_text(encoding="utf-8"))
    with locked_state():
        pass
    db = records_db.shared()
    assert db is not None
    with db.read() as con:
        (rows,) = con.execute("SELECT count(*) FROM run_history").fetchone()
    assert rows == len(old_home)


def test_history_json_is_the_same_before_and_after_the_move(
    old_home: list[dict[str, object]],
) -> None:
    """`history --json`'s source, the records' documents, is the same JSON either side."""
    before = json.dumps(documents(), default=str)
    with locked_state():
        pass
    assert json.dumps(documents(), default=str) == before
