"""A backup's snapshot moment: the first real run in the restored home fixes when every
unrecorded client counts as announced; a dry run only reads; a run settle_seconds later
clears the mark; a home never restored reads nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from trigon_sync.store import records_db, restore_mark

T0 = dt.datetime(2024, 10, 31, 2, 0, tzinfo=dt.UTC)
SETTLE = 30.0


@pytest.fixture
def restored() -> Iterator[None]:
    """A home whose database carries a backup's mark taken at T0 (as a restored copy does)."""
    records_db.shared(create=True)
    records_db.forget_shared()
    assert restore_mark.mark_copy(records_db.db_file(), T0)
    yield
    records_db.forget_shared()


def moment(now: dt.datetime, *, write: bool) -> dt.datetime | None:
    """The pending mark's moment (None: no mark needed), as a command reads it."""
    mark = restore_mark.pending(now, SETTLE, write=write)
    return None if mark is None else mark.at


def marks() -> dict[str, str]:
    db = records_db.shared(create=True)
    with db.read() as con:
        return dict(con.execute("SELECT key, value FROM meta WHERE key LIKE 'restore%'"))


def test_a_home_never_restored_has_no_moment_and_writes_nothing() -> None:
    records_db.shared(create=True)
    assert moment(T0, write=True) is None
    assert marks() == {}


def test_the_first_run_fixes_the_moment_at_its_start_whatever_the_backups_age(
    restored: None,
) -> None:
    """A week-old backup: the lost home may have created until just before the restore, so
    the moment is the first run's start, not the snapshot's."""
    first = T0 + dt.timedelta(days=7)
    assert moment(first, write=False) == first
    assert set(marks()) == {restore_mark.SNAPSHOT_KEY}  # a dry run writes nothing
    assert moment(first, write=True) == first
    again = first + dt.timedelta(seconds=5)  # a second run at once keeps the first's moment
    assert moment(again, write=True) == first
    assert set(marks()) == {restore_mark.SNAPSHOT_KEY, restore_mark.FIRST_RUN_KEY}


def test_a_run_settle_seconds_after_the_moment_clears_the_mark(restored: None) -> None:
    first = T0 + dt.timedelta(minutes=1)
    assert moment(first, write=True) == first
    later = first + dt.timedelta(seconds=SETTLE)
    assert moment(later, write=False) is None
    assert marks() != {}  # only a real run clears it
    assert moment(later, write=True) is None
    assert marks() == {}
    assert moment(later, write=True) is None


def test_a_backup_of_a_restored_home_carries_its_own_moment(restored: None) -> None:
    """The copy of a home whose first run stamped its start is marked afresh."""
    moment(T0 + dt.timedelta(seconds=1), write=True)
    records_db.forget_shared()
    later = T0 + dt.timedelta(hours=1)
    restore_mark.mark_copy(records_db.db_file(), later)
    assert marks() == {restore_mark.SNAPSHOT_KEY: later.isoformat(timespec="microseconds")}


def test_the_mark_tells_when_the_backup_was_taken_and_what_the_wait_is_for(
    restored: None,
) -> None:
    """What a restored home's command says (once, also under cron) and why it waits: the
    snapshot's moment in Tallinn time, not a lost answer."""
    first = T0 + dt.timedelta(days=7)
    mark = restore_mark.pending(first, SETTLE, write=False)
    assert mark == restore_mark.Mark(first, T0)
    assert mark.taken == "31.10.2024 04:00"  # 02:00 UTC is 04:00 in Tallinn
    assert mark.note(SETTLE) == (
        "restored from a backup taken 31.10.2024 04:00: waiting up to 30 s for Uku to list "
        "what the earlier home created before creating anything"
    )
    assert mark.wait_reason() == (
        "its lists to show what the earlier home created "
        "(the home was restored from a backup taken 31.10.2024 04:00)"
    )
