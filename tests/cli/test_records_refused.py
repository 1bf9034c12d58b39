"""A records database that is gone or damaged stops every command, loudly (exit 8):
never an empty one begun again, never a write into a damaged one, and `status` /
`doctor` name it as a failed check monitoring sees."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.cli.sandbox_home import Invoke
from trigon_sync.store import owed, paths, records_db
from trigon_sync.store.state import ClientLink, locked_state

AT = dt.date(2025, 3, 1)


def a_home_that_has_run() -> None:
    """One linked client owing 2025-01 and 2025-02, a counted window and run records."""
    paths.ensure_home()
    paths.config_file().write_text('[uku]\ncompany = "c"\n', encoding="utf-8")
    with locked_state() as session:
        state = session.state
        state.links["f1"] = ClientLink("f1", "10137319", "Alpha OÜ", 101, dt.date(2024, 10, 1))
        state.complete_window(dt.date(2024, 12, 30), "2024-12")
        state.record(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), "run-monthly", "ok")
        session.save()
    owed.owe("f1", "2025-01", "no View", AT)
    owed.owe("f1", "2025-02", "no View", AT)
    # rows enough for many pages, so that one page can be damaged away from the owed ones
    with records_db.shared(create=True).transaction() as con:
        con.executemany(
            "INSERT INTO run_history (at, command, result, document) VALUES (?, ?, ?, ?)",
            [("2024-01-01T00:00:00", "x", "ok", "{}" + " " * 2000) for _ in range(300)],
        )
    records_db.forget_shared()  # closed: the write-ahead log is checkpointed into the file


def damage_a_page() -> bytes:
    """Overwrite one page near the end of the file (the run history's rows), the header
    intact: a reader that does not touch that page does not notice. The bytes after."""
    path = paths.records_file()
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    start = len(data) - 5 * size
    data[start : start + size] = b"\xa5" * size
    path.write_bytes(bytes(data))
    return bytes(data)


def check(output: str, name: str) -> dict[str, object]:
    found: dict[str, object] = next(c for c in json.loads(output)["checks"] if c["name"] == name)
    return found


def test_a_lost_database_is_refused_by_every_command_and_never_begun_again(cli: Invoke) -> None:
    """state.toml says the home has its database; without it no command reads an empty
    one (a forgotten owed pair), nor makes one."""
    a_home_that_has_run()
    for extra in ("", "-wal", "-shm"):
        Path(str(paths.records_file()) + extra).unlink(missing_ok=True)
    for args in (
        ("run-monthly", "--today", "2025-02-28"),
        ("explain", "10137319", "--period", "2025-01"),
        ("history",),
        ("waive", "10137319", "--period", "2025-01", "--reason", "y"),
        ("unlink", "10137319", "--yes"),
        ("state", "set-last-period-end", "2024-11-30", "--period", "2024-11", "--yes"),
    ):
        result = cli(*args)
        assert result.exit_code == 8, (args, result.output)
        assert "records.sqlite3 is missing" in result.stderr, args
        assert "trigon-sync backup" in result.stderr, args
        assert not paths.records_file().exists(), args
    result = cli("status", "--json")
    assert result.exit_code == 8, result.output
    found = check(result.stdout, "records.readable")
    assert found["status"] == "fail" and "is missing" in str(found["detail"])
    # what only the lost records knew is unknown, never "nothing owed", "no run yet"
    for name in ("runs.owed", "runs.last", "counts.anomalies"):
        assert check(result.stdout, name)["status"] == "skip", name
    assert not paths.records_file().exists()


def test_a_damaged_database_takes_no_write(cli: Invoke) -> None:
    """A page damaged, the header intact: waive and unlink refuse (exit 8, one line naming
    the first problem) before writing anything."""
    a_home_that_has_run()
    damaged = damage_a_page()
    for args in (
        ("waive", "10137319", "--period", "2025-01", "--reason", "y"),
        ("unlink", "10137319", "--yes"),
    ):
        result = cli(*args)
        assert result.exit_code == 8, (args, result.output)
        [line] = result.stderr.strip().splitlines()[:1]
        assert "records.sqlite3 is corrupt" in line, line
        assert len(result.stderr) < 1000
        records_db.forget_shared()
        assert paths.records_file().read_bytes() == damaged, args
    from trigon_sync.store.state import load_state

    assert list(load_state().links) == ["f1"]


def test_doctor_checks_every_page_and_names_the_damage(cli: Invoke) -> None:
    """`doctor --json` fails its records check with exit code 8; `status` names it too
    when what it reads is damaged, and says doctor checks every page when it is not."""
    a_home_that_has_run()
    result = cli("status", "--json")
    detail = str(check(result.stdout, "records.readable")["detail"])
    assert "doctor checks every page" in detail
    damage_a_page()
    records_db.forget_shared()
    result = cli("doctor", "--json")
    found = check(result.stdout, "records.readable")
    assert found["status"] == "fail" and found["exit_code"] == 8
    assert "is corrupt" in str(found["detail"])
