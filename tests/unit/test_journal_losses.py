"""A journal's ``gone`` line: the client is not done from it on, until a later line
records the task made again, and the loss stays readable for ``explain``."""

from __future__ import annotations

import datetime as dt

from trigon_sync.clock import TALLINN
from trigon_sync.schedule.rules import Run
from trigon_sync.store.journal import Entry, Loss, PeriodJournal

AT = dt.datetime(2024, 10, 31, 1, 0, tzinfo=TALLINN)
OCTOBER = Run(dt.date(2024, 10, 31), dt.date(2024, 10, 1), dt.date(2024, 10, 30), "2024-10")


def test_a_gone_line_marks_the_entry_lost_and_a_new_entry_replaces_it() -> None:
    book = PeriodJournal(OCTOBER)
    book.append(Entry("f1", 101, 5001, "create", {"payments_created": 2}), AT)
    book.append(Entry("f2", 102, 5002, "create"), AT)
    loss = Loss(5001, 101, moved_to=103, at="2024-11-01T01:00:00+02:00")
    book.lose("f1", loss)
    found = book.load()
    assert found["f1"].lost == loss and found["f2"].lost is None
    assert found["f1"].counts == {"payments_created": 2}  # what was billed, still readable
    assert book.load({"f1"})["f1"].lost == loss  # the firm filter keeps the gone line
    book.append(Entry("f1", 101, 5009, "create"), AT)
    again = book.load()["f1"]
    assert (again.task, again.lost, again.earlier) == (5009, None, loss)


def test_a_gone_line_of_another_task_leaves_the_entry_done() -> None:
    """A loss recorded for an older task does not undo the task that replaced it."""
    book = PeriodJournal(OCTOBER)
    book.append(Entry("f1", 101, 5009, "create"), AT)
    book.lose("f1", Loss(5001, 101, at="2024-11-01T01:00:00+02:00"))
    assert book.load()["f1"].lost is None
    assert Loss(1, 2).described == "deleted in Uku"
    assert Loss(1, 2, moved_to=3).described == "moved in Uku to client 3"
