"""A busy Uku company's other work: N tasks in other topics, made up on demand, not stored.

An accounting firm's Uku company holds all of its work (about 100,000 tasks a year for 300
clients), and the real Uku may ignore every filter we send, so a lookup can meet all of
them. Holding 100,000 task dicts would make the sandbox slow to start and to copy, so the
unrelated tasks are a formula: task ``i`` (0-based) has id :data:`FIRST_ID` + ``i``, was
created at ``first + i * step`` (spread evenly up to ``last``), is dated that day, sits on
one of :data:`CLIENTS` made-up clients and one of :data:`TOPICS` other topics, and is
finished. Ids and creation times both grow with ``i``, so any order the store lists in is
a sort of the index, and a date range is a range of indices.

They are read-only: a GET by id and the listings show them; nothing writes to them.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

FIRST_ID = 1_000_000_000
"""Task ids of unrelated tasks start here; tasks created through the API come after them."""
CLIENTS = 300
FIRST_CLIENT = 800_001
TOPICS = (
    (900_001, "Käibedeklaratsioon"),
    (900_002, "Palgaarvestus"),
    (900_003, "Aastaaruanne"),
)
"""Other topics (not in the seed's topic list); a task's topic follows its client."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _seconds(moment: dt.datetime) -> int:
    return int((moment - EPOCH).total_seconds())


@dataclass(frozen=True)
class UnrelatedTasks:
    """``count`` tasks created evenly from ``first`` to ``last`` (whole days, UTC)."""

    count: int
    first: dt.date = dt.date(2019, 1, 1)
    last: dt.date = dt.date(2024, 8, 31)

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError("the number of unrelated tasks must not be negative")
        if self.last < self.first:
            raise ValueError("unrelated tasks: last must not be before first")

    @property
    def _start(self) -> int:
        return _seconds(dt.datetime.combine(self.first, dt.time(8), tzinfo=dt.UTC))

    @property
    def _step(self) -> int:
        span = _seconds(dt.datetime.combine(self.last, dt.time(17), tzinfo=dt.UTC)) - self._start
        return max(1, span // max(1, self.count))

    # -- one task --------------------------------------------------------------------------

    def created(self, index: int) -> int:
        """Task ``index``'s creation time, epoch seconds."""
        return self._start + index * self._step

    def task_id(self, index: int) -> int:
        return FIRST_ID + index

    def index_of(self, task_id: int) -> int | None:
        index = task_id - FIRST_ID
        return index if 0 <= index < self.count else None

    def row(self, index: int) -> dict[str, Any]:
        """Task ``index`` in the contract's wire shape, with its ``created_at``."""
        moment = EPOCH + dt.timedelta(seconds=self.created(index))
        client = index % CLIENTS
        topic_id, topic = TOPICS[client % len(TOPICS)]
        return {
            "id": self.task_id(index),
            "title": topic,
            "client_id": FIRST_CLIENT + client,
            "topic_id": topic_id,
            "date": moment.date().isoformat(),
            "status": "finished",
            "description": None,
            "custom_fields": [],
            "created_at": moment.isoformat().replace("+00:00", "Z"),
        }

    @property
    def last_id(self) -> int:
        return FIRST_ID + self.count - 1

    # -- a listing ---------------------------------------------------------------------------

    def select(
        self,
        *,
        client_id: int | None = None,
        topic_id: int | None = None,
        status: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        q: str | None = None,
    ) -> Sequence[int]:
        """The indices a filtered listing holds, ascending. The date range is a bisection
        (dates grow with the index); other filters, rarely honoured together with many
        rows, are checked per index."""
        if status not in (None, "finished"):
            return range(0)
        lo, hi = 0, self.count
        day = self._day
        if date_from is not None:
            lo = bisect.bisect_left(range(self.count), date_from, key=day)
        if date_to is not None:
            hi = bisect.bisect_right(range(self.count), date_to, key=day)
        chosen: Sequence[int] = range(lo, max(lo, hi))
        checks: list[Callable[[int], bool]] = []
        if client_id is not None:
            checks.append(lambda i: FIRST_CLIENT + i % CLIENTS == client_id)
        if topic_id is not None:
            checks.append(lambda i: TOPICS[i % CLIENTS % len(TOPICS)][0] == topic_id)
        if q:
            needle = q.casefold()
            hits = {n for n, (_, name) in enumerate(TOPICS) if needle in name.casefold()}
            checks.append(lambda i: i % CLIENTS % len(TOPICS) in hits)
        if checks:
            chosen = [i for i in chosen if all(check(i) for check in checks)]
        return chosen

    def _day(self, index: int) -> dt.date:
        return (EPOCH + dt.timedelta(seconds=self.created(index))).date()
