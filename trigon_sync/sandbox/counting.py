"""Record counting with the contract's semantics, fast enough for thousands of /count calls.

docs/trigon-api.md, "Counting semantics": a record is *created* in a window when its
``created_at`` as a Europe/Tallinn local date is inside the (inclusive) window, and
*updated* when its ``updated_at`` local date is inside it **and** ``updated_at`` is strictly
later than ``created_at``. Each (firm, type) keeps two lists sorted by those local dates so
a count is two bisections instead of a scan (a benchmark hits /count ~7,000 times).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from trigon_sync.clock import TALLINN
from trigon_sync.sandbox.seed import SeedRecord

Event = Literal["created", "updated"]


def local_day(moment: dt.datetime) -> int:
    """The Tallinn calendar day of an aware timestamp, as a date ordinal (never the UTC day)."""
    return moment.astimezone(TALLINN).date().toordinal()


def is_update(record: SeedRecord) -> bool:
    """Only an edit after creation is an update; ``updated_at == created_at`` never counts."""
    return record.updated_at > record.created_at


@dataclass
class _Lane:
    """Records of one (firm, type, event), sorted by local day, with a parallel key list."""

    keys: list[int] = field(default_factory=list)
    records: list[SeedRecord] = field(default_factory=list)

    def insert(self, key: int, record: SeedRecord) -> None:
        pos = bisect.bisect_right(self.keys, key)
        self.keys.insert(pos, key)
        self.records.insert(pos, record)

    def span(self, start: dt.date, end: dt.date) -> tuple[int, int]:
        lo = bisect.bisect_left(self.keys, start.toordinal())
        hi = bisect.bisect_right(self.keys, end.toordinal())
        return lo, max(lo, hi)


class RecordIndex:
    """All records of a world, indexed per firm and type by Tallinn created/updated day."""

    def __init__(self, records: Iterable[SeedRecord] = ()) -> None:
        self._lanes: dict[tuple[str, str, Event], _Lane] = {}
        self._size = 0
        staged: dict[tuple[str, str, Event], list[tuple[int, int, SeedRecord]]] = {}
        for n, record in enumerate(records):
            staged.setdefault((record.firm, record.type, "created"), []).append(
                (local_day(record.created_at), n, record)
            )
            if is_update(record):
                staged.setdefault((record.firm, record.type, "updated"), []).append(
                    (local_day(record.updated_at), n, record)
                )
            self._size += 1
        for key, rows in staged.items():
            rows.sort(key=lambda row: (row[0], row[1]))
            self._lanes[key] = _Lane([r[0] for r in rows], [r[2] for r in rows])

    def __len__(self) -> int:
        return self._size

    def add(self, record: SeedRecord) -> None:
        """Index one more record (sandbox admin: records appear between runs)."""
        self._lanes.setdefault((record.firm, record.type, "created"), _Lane()).insert(
            local_day(record.created_at), record
        )
        if is_update(record):
            self._lanes.setdefault((record.firm, record.type, "updated"), _Lane()).insert(
                local_day(record.updated_at), record
            )
        self._size += 1

    def count(self, firm: str, rtype: str, event: Event, start: dt.date, end: dt.date) -> int:
        """How many records of ``rtype`` were created/updated in ``start..end`` (inclusive)."""
        lane = self._lanes.get((firm, rtype, event))
        if lane is None:
            return 0
        lo, hi = lane.span(start, end)
        return hi - lo

    def select(
        self,
        firm: str,
        rtype: str,
        event: Event | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> list[SeedRecord]:
        """The records behind :meth:`count` (every record of the type when no window)."""
        lane = self._lanes.get((firm, rtype, event or "created"))
        if lane is None:
            return []
        if event is None or start is None or end is None:
            return list(lane.records)
        lo, hi = lane.span(start, end)
        return lane.records[lo:hi]

    def drop_firm(self, firm: str) -> None:
        """Forget a removed firm's records."""
        for key in [k for k in self._lanes if k[0] == firm]:
            self._size -= len(self._lanes[key].records) if key[2] == "created" else 0
            del self._lanes[key]
