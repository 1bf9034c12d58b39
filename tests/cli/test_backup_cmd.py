"""`trigon-sync backup DIR`: a private copy of what a restore needs, secrets only on request,
never into a directory that already holds something."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from tests.cli.sandbox_home import Invoke
from trigon_sync.store import installation, paths, records_db
from trigon_sync.store.state import locked_state


def a_home() -> None:
    """A home with config, state, records database, installation id and a token file."""
    paths.ensure_home()
    paths.config_file().write_text('[uku]\ncompany = "c"\n', encoding="utf-8")
    installation.ensure()
    with locked_state() as session:
        session.state.last_period = "2024-10"
        session.save()
    with records_db.shared(create=True).transaction() as con:
        con.execute("INSERT INTO client_intents (firm, code, at) VALUES ('f1', '1', 'now')")
    paths.token_file().write_text('uku_api_key = "not-a-real-key"\n', encoding="utf-8")


def test_backup_copies_the_home_privately_without_secrets(cli: Invoke, tmp_path: Path) -> None:
    """The copy holds config, installation id, state and the database (its rows readable),
    each mode 0600 in a 0700 directory; tokens.toml stays behind without the option."""
    a_home()
    target = tmp_path / "copy"
    result = cli("backup", str(target))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in target.iterdir())
    assert names == ["config.toml", "installation-id", "records.sqlite3", "state.toml"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert {stat.S_IMODE((target / n).stat().st_mode) for n in names} == {0o600}
    assert (target / "state.toml").read_bytes() == paths.state_file().read_bytes()
    with sqlite3.connect(target / "records.sqlite3") as con:
        assert con.execute("SELECT firm FROM client_intents").fetchall() == [("f1",)]
    assert "--include-secrets" in result.stdout
    assert "not-a-real-key" not in result.output


def test_include_secrets_copies_the_token_file(cli: Invoke, tmp_path: Path) -> None:
    """Only --include-secrets copies tokens.toml."""
    a_home()
    result = cli("backup", str(tmp_path / "copy"), "--include-secrets")
    assert result.exit_code == 0, result.output
    copied = tmp_path / "copy" / "tokens.toml"
    assert copied.read_bytes() == paths.token_file().read_bytes()
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600
    # a copy used beside the live home, or connected in a drill, can end its login
    said = " ".join(result.stdout.split())
    assert "never use the copy while this home still runs" in said
    assert "delete the copy's tokens.toml before `connect`" in said


def test_a_non_empty_directory_is_refused(cli: Invoke, tmp_path: Path) -> None:
    """A directory holding anything is refused with exit 2 and left as it was."""
    a_home()
    target = tmp_path / "copy"
    target.mkdir()
    (target / "state.toml").write_text("older backup\n", encoding="utf-8")
    result = cli("backup", str(target))
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert (target / "state.toml").read_text(encoding="utf-8") == "older backup\n"
    assert sorted(p.name for p in target.iterdir()) == ["state.toml"]


def test_a_directory_inside_the_home_is_refused(cli: Invoke) -> None:
    """A backup inside the home would be lost with it: exit 2."""
    a_home()
    result = cli("backup", str(paths.home_dir() / "backups"))
    assert result.exit_code == 2
    assert "inside the home" in result.stderr


def test_a_corrupt_database_is_reported_not_copied_silently(cli: Invoke, tmp_path: Path) -> None:
    """A records database that is not one fails the backup with exit 8 and one line."""
    a_home()
    records_db.forget_shared()
    paths.records_file().write_bytes(b"this is not a database" * 100)
    result = cli("backup", str(tmp_path / "copy"))
    assert result.exit_code == 8
    assert "Traceback" not in result.output
    assert "records.sqlite3" in result.stderr


def damage_cells() -> None:
    """Scramble the cells of three pages in the middle of the database, its header and
    page headers intact: SQLite's check then reports problems by the dozen (one row of
    thousands of characters) instead of failing to open."""
    with records_db.shared(create=True).transaction() as con:
        con.executemany(
            "INSERT INTO client_intents (firm, code, at) VALUES (?, ?, 'now')",
            [(f"firm{n * 7919 % 20000}", str(n)) for n in range(20000)],
        )
    records_db.forget_shared()  # checkpointed into the file
    path = paths.records_file()
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    pages = len(data) // size
    for page in range(pages // 2, pages // 2 + 3):
        start = page * size + 100
        data[start : start + 200] = bytes((n * 37 + page) % 256 for n in range(200))
    path.write_bytes(bytes(data))


def test_a_damaged_database_fails_in_one_short_line_and_leaves_no_backup(
    cli: Invoke, tmp_path: Path
) -> None:
    """Exit 8 with one short line (the first problem and how many), and nothing left
    that looks like a backup: neither DIR nor a partial copy beside it."""
    a_home()
    damage_cells()
    target = tmp_path / "copy"
    result = cli("backup", str(target))
    assert result.exit_code == 8, result.output
    [line] = result.stderr.strip().splitlines()
    assert "records.sqlite3 is corrupt" in line
    assert len(line) < 600, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    # an empty DIR given is left empty
    target.mkdir()
    assert cli("backup", str(target)).exit_code == 8
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "home"]
