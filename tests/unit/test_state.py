"""state.toml: versioned, atomic, private, locked, and never overwritten when unreadable."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trigon_sync.errors import BusyError, StateError
from trigon_sync.records.tables import Periods, StagedImport
from trigon_sync.store import paths, state
from trigon_sync.store.state import ClientLink, load_state, locked_state

AT = dt.datetime(2024, 11, 29, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def save_window(end: dt.date, period: str) -> None:
    with locked_state() as session:
        session.state.complete_window(end, period)
        session.save()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_file_is_an_empty_state() -> None:
    """Before the first run there is nothing counted and nothing linked."""
    empty = load_state()
    assert (empty.last_period_end, empty.last_period, empty.links) == (None, None, {})
    assert empty.schema_version == state.SCHEMA_VERSION


def test_round_trip_keeps_everything_and_drops_none() -> None:
    """Everything saved is read back; None inside opaque tables is simply left out."""
    with locked_state() as session:
        s = session.state
        s.complete_window(dt.date(2024, 10, 30), "2024-10")
        s.links["f1"] = ClientLink(
            "f1", "10137319", "Alpha OÜ", 12, dt.date(2024, 10, 2), ["red_x"]
        )
        s.staged_import = StagedImport.from_document({"rows": [{"trigon_id": "f1", "note": None}]})
        s.journal = Periods.from_document({"period": "2024-11", "done": ["f1"], "error": None})
        s.record(AT, "run-monthly", "ok", clients=3, skipped=None)
        session.save()
    back = load_state()
    assert back.last_period_end == dt.date(2024, 10, 30)
    assert back.last_period == "2024-10"
    assert back.links["f1"] == ClientLink(
        "f1", "10137319", "Alpha OÜ", 12, dt.date(2024, 10, 2), ["red_x"]
    )
    assert back.staged_import is not None
    assert back.staged_import.to_document() == {"rows": [{"trigon_id": "f1"}]}
    assert back.journal.to_document() == {"period": "2024-11", "done": ["f1"]}
    assert [r.to_document() for r in back.history] == [
        {"at": "2024-11-29T00:30:00+02:00", "command": "run-monthly", "result": "ok", "clients": 3}
    ]


def test_unknown_top_level_keys_survive_a_save() -> None:
    """Keys this version does not know are kept, so nothing is silently lost."""
    paths.ensure_home()
    paths.state_file().write_text('schema_version = 1\nfuture_thing = "keep me"\n')
    save_window(dt.date(2024, 10, 30), "2024-10")
    assert 'future_thing = "keep me"' in paths.state_file().read_text()


def test_state_file_is_0600_after_every_write() -> None:
    """Even replacing a file someone made world-readable, the result is mode 0600."""
    paths.ensure_home()
    paths.state_file().write_text("schema_version = 1\n")
    paths.state_file().chmod(0o644)
    for day in (dt.date(2024, 10, 30), dt.date(2024, 11, 28)):
        save_window(day, f"{day:%Y-%m}")
        assert mode(paths.state_file()) == 0o600
    assert mode(paths.home_dir()) == 0o700


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("schema_version = [\n", "is corrupt"),
        ("last_period_end = 2024-10-30\n", "no valid schema_version"),
        ('schema_version = 1\nlast_period = "October"\n', "is corrupt"),
        ("schema_version = 1\nlast_period_end = 30\n", "is corrupt"),
        ("schema_version = 99\n", "newer trigon-sync"),
    ],
)
def test_unreadable_state_is_refused_and_never_overwritten(content: str, fragment: str) -> None:
    """Corrupt or newer files raise StateError on read and on locked use; the bytes stay."""
    paths.ensure_home()
    paths.state_file().write_text(content)
    with pytest.raises(StateError, match=fragment):
        load_state()
    with pytest.raises(StateError, match=fragment), locked_state():
        pass
    assert paths.state_file().read_text() == content


def test_migration_hook_upgrades_old_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """A version-n file passes through MIGRATIONS[n] on the way in."""
    monkeypatch.setattr(state, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(
        state.MIGRATIONS, 1, lambda doc: {**doc, "last_period": doc.pop("old_label")}
    )
    paths.ensure_home()
    paths.state_file().write_text('schema_version = 1\nold_label = "2024-10"\n')
    migrated = load_state()
    assert (migrated.schema_version, migrated.last_period) == (2, "2024-10")


def test_fault_before_replace_leaves_old_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that dies between temp file and rename leaves the old state and no temp file."""
    save_window(dt.date(2024, 10, 30), "2024-10")

    def die(temp: Path) -> None:
        assert temp.read_text().count("2024-11-28") == 1  # the new state was fully written
        raise OSError("disk pulled")

    monkeypatch.setattr(state, "before_replace_hook", die)
    with pytest.raises(OSError, match="disk pulled"):
        save_window(dt.date(2024, 11, 28), "2024-11")
    assert load_state().last_period_end == dt.date(2024, 10, 30)
    names = sorted(p.name for p in paths.home_dir().iterdir() if "records" not in p.name)
    assert names == ["state.lock", "state.toml"]


def test_killed_process_mid_write_leaves_old_state_readable() -> None:
    """A process killed right before the rename leaves the old state; the next save cleans up."""
    save_window(dt.date(2024, 10, 30), "2024-10")
    script = textwrap.dedent(
        """
        import datetime as dt, os
        from trigon_sync.store import state
        state.before_replace_hook = lambda temp: os._exit(9)
        with state.locked_state() as session:
            session.state.complete_window(dt.date(2024, 11, 28), "2024-11")
            session.save()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], env=os.environ.copy(), check=False)
    assert done.returncode == 9
    leftovers = list(paths.home_dir().glob(".state.toml.*.tmp"))
    assert len(leftovers) == 1
    assert load_state().last_period_end == dt.date(2024, 10, 30)
    save_window(dt.date(2024, 11, 28), "2024-11")
    assert load_state().last_period == "2024-11"
    assert not list(paths.home_dir().glob(".state.toml.*.tmp"))


def test_second_writer_is_refused_at_once_with_the_holders_pid() -> None:
    """While one session holds the lock, another gets BusyError naming the pid, not a wait."""
    with locked_state():
        with pytest.raises(BusyError, match=rf"in progress \(pid {os.getpid()}\)"), locked_state():
            pass
        assert load_state().last_period_end is None  # readers never need the lock
    with locked_state():
        pass  # released afterwards


def test_history_keeps_every_record_and_state_toml_does_not_grow() -> None:
    """Run records go to the records database: none is cut at a limit (there was one of
    1,000), and state.toml stays the same size however many nights are recorded.

    1,005 records past that limit, saved over five sessions (201 a night, not one): the
    cap counted records, never saves, and 1,005 locked saves were 6 s of this suite."""
    with state.locked_state() as session:
        session.save()
    size = paths.state_file().stat().st_size
    for night in range(5):
        with state.locked_state() as session:
            for i in range(night * 201, (night + 1) * 201):
                session.state.record(AT, "x", "ok", n=i)
            session.save()
        assert paths.state_file().stat().st_size == size
    records = state.load_state().history
    assert [r.details["n"] for r in records] == list(range(1005))
    assert paths.state_file().stat().st_size == size


def test_a_link_keeps_its_uku_company_and_an_old_link_loads_without_one() -> None:
    """``uku_company`` is written and read back; a link written before it existed loads
    with None (and a wrong type is refused as corrupt, never guessed)."""
    paths.ensure_home()
    paths.state_file().write_text(
        'schema_version = 1\n[links.f1]\ntrigon_id = "f1"\nregistration_code = "10137319"\n'
        'name = "Alpha OÜ"\nuku_client_id = 12\nlinked_at = 2024-10-02\n'
    )
    old = load_state().links["f1"]
    assert old.uku_company is None
    with locked_state() as session:
        session.state.links["f1"].uku_company = "company-a"
        session.save()
    assert load_state().links["f1"].uku_company == "company-a"
    paths.state_file().write_text(
        paths.state_file().read_text().replace('"company-a"', "7"), encoding="utf-8"
    )
    with pytest.raises(StateError, match="uku_company"):
        load_state()
