"""A create's announcement keeps the exact moment it was sent: the next run's settle wait
(``[uku] settle_seconds``) is measured from it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from trigon_sync.clock import TALLINN
from trigon_sync.schedule.rules import Run
from trigon_sync.store import paths, records_migration
from trigon_sync.store.journal import ClientIntents, PeriodJournal
from trigon_sync.uku.settling import LOST_ANSWER_WAIT, Settler

SENT = dt.datetime(2024, 11, 30, 12, 0, 0, 900_000, tzinfo=TALLINN)
"""0.9 s past a whole second: cut to the second it would read 0.9 s earlier."""
OCTOBER = Run(dt.date(2024, 10, 31), dt.date(2024, 10, 1), dt.date(2024, 10, 30), "2024-10")


def waits_after_reading(sent_at: dt.datetime, settle: float, elapsed: float) -> list[float]:
    """What a Settler sleeps when the next run reads ``sent_at`` ``elapsed`` s after SENT."""
    slept: list[float] = []
    Settler(settle, lambda: SENT + dt.timedelta(seconds=elapsed), slept.append).wait(
        sent_at, LOST_ANSWER_WAIT
    )
    return slept


def test_a_client_create_is_announced_to_the_microsecond(tmp_path: Path) -> None:
    """confirm's intent line reads back as the moment it was written, so a confirm that
    starts 0.25 s after a killed one still waits the rest of a 1 s settle (not 0 s)."""
    intents = ClientIntents()
    intents.intend("F1", "12345678", SENT)
    assert intents.load() == {"F1": SENT}
    assert waits_after_reading(intents.load()["F1"], 1.0, 0.25) == [0.75]


def test_a_task_create_is_announced_to_the_microsecond(tmp_path: Path) -> None:
    """run-monthly's intent line in the period journal reads back exactly, too."""
    journal = PeriodJournal(OCTOBER)
    journal.intend("F1", 7, SENT)
    assert journal.intents() == {"F1": SENT}
    assert waits_after_reading(journal.intents()["F1"], 1.0, 0.25) == [0.75]


def test_an_announcement_written_to_the_second_still_reads() -> None:
    """Lines written by versions before the microsecond (whole seconds) are still
    understood once migrated from the old file."""
    path = paths.journal_dir() / "client-creates.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        '{"intent": "create", "firm": "F1", "code": "1", "at": "2024-11-30T12:00:00+02:00"}\n',
        encoding="utf-8",
    )
    records_migration.migrate()
    assert ClientIntents().load() == {"F1": SENT.replace(microsecond=0)}


def test_a_line_after_a_torn_one_is_migrated() -> None:
    """An old journal with a torn line (a kill mid-append) between two whole ones
    migrates both whole lines and skips only the torn one."""
    path = paths.journal_dir() / "2024-10.jsonl"
    path.parent.mkdir(parents=True)
    window = '"window": ["2024-10-01", "2024-10-30"]'
    line = '{{"intent": "create", "firm": "{}", "client": 7, {}, "at": "{}"}}\n'
    path.write_text(
        line.format("F1", window, SENT.isoformat())
        + '{"firm": "F2", "cli\n'
        + line.format("F3", window, SENT.isoformat()),
        encoding="utf-8",
    )
    moved = records_migration.migrate()
    assert moved is not None and (moved.records, moved.skipped) == (2, 1)
    assert PeriodJournal(OCTOBER).intents() == {"F1": SENT, "F3": SENT}
