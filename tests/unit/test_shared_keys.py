"""A task's field values and a client's counts, as a run keeps them: the dict they were,
with the keys shared."""

from __future__ import annotations

import datetime as dt

import pytest

from trigon_sync.monthly.review import History
from trigon_sync.settings.fields import FIELDS
from trigon_sync.shared_keys import SharedKeys
from trigon_sync.trigon.counting import window_counts
from trigon_sync.uku.adapter import task_from_json


def parsed(values: list[tuple[int, object]]) -> SharedKeys:
    task = task_from_json(
        {
            "id": 1,
            "title": "T",
            "custom_fields": [{"field_id": fid, "value": value} for fid, value in values],
        }
    )
    assert isinstance(task.custom_fields, SharedKeys)
    return task.custom_fields


def test_the_values_read_as_the_dict_uku_sent() -> None:
    values = parsed([(11, 3), (12, "3.00"), (13, None), (11, 4)])  # 11 twice: the last holds
    sent = {11: 4, 12: "3.00", 13: None}
    assert values == sent and sent == values  # both sides: a Task compares its fields so
    assert list(values) == [11, 12, 13] and len(values) == 3
    assert values.get(13, "absent") is None and values.get(99) is None
    with pytest.raises(KeyError):
        values[99]
    assert repr(values) == "{11: 4, 12: '3.00', 13: None}"
    assert values != {11: 4, 12: "3.00"}


def test_tasks_with_the_same_fields_share_one_table_of_them() -> None:
    """What keeps a period's listing small: each task holds only its values."""
    a = parsed([(11, 3), (12, 5)])
    b = parsed([(11, 7), (12, 0)])
    c = parsed([(12, 7), (11, 0)])  # another order: another table
    assert a._at is b._at and a._at is not c._at
    assert not hasattr(a, "__dict__")


class Counting:
    """Trigon answering every count with a number of its own (the unit here is what
    window_counts keeps, not how Trigon is asked)."""

    def __init__(self) -> None:
        self.asked = 0

    def count(self, *_: object) -> int:
        self.asked += 1
        return 1000 + self.asked

    def snapshot(self, *_: object) -> int:
        self.asked += 1
        return self.asked


def test_every_clients_counts_share_one_table_of_keys() -> None:
    """What keeps 5,000 clients' outcomes and review history small."""
    day = dt.date(2024, 10, 31)
    trigon = Counting()
    a, b = (window_counts(trigon, firm, FIELDS, day, day) for firm in ("f1", "f2"))  # type: ignore[arg-type]
    assert list(a) == [f.key for f in FIELDS] and a != b
    assert isinstance(a, SharedKeys) and isinstance(b, SharedKeys)
    assert a._at is b._at
    history = History(depth=6, first="2024-10")
    history.add("f1", "2024-10", dict(a))
    history.add("f2", "2024-10", b)
    kept = [history.by_firm[f]["2024-10"] for f in ("f1", "f2")]
    assert kept == [a, b]
    assert all(isinstance(k, SharedKeys) and k._at is a._at for k in kept)
