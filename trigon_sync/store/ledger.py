"""The billing ledger: what was written to Uku per client and period, kept locally.

The office bills from the counts in Uku's summary tasks; ``report``, the anomaly checks and
``status`` need those counts for months and years back, for thousands of clients, without
one call to Uku. The period journals (journal.py) cannot answer that: they exist to resume
a run, hold Trigon keys but not the Uku field names the counts went into, and a
``--rerun`` does not write them. So every successful create/update (or a task found
already holding the counts) adds one row to the records database (records_db.py, schema
2), committed before the period's journal row, and the newest row of a (firm, period) is
what Uku holds.

Tables (records_db.SCHEMA_2):

* ``field_maps``: each mapping (Trigon key -> Uku field name) at write time, by a short id
  of its contents (:func:`fields_id`). A renamed or remapped field gets a new id, older
  rows keep theirs.
* ``ledger_writes``: one row per write; ``counts`` a JSON list in the order of the
  mapping's pairs. Indexed by (period, firm) and (firm, period): ``report`` reads the
  rows of its periods, ``explain`` one client's, ``status`` the newest period's (found
  by ``max(period)`` on the index) and the few before it the flags look back at.
* ``ledger_accepts``: the admin accepted a flagged client's counts (``trigon-sync
  accept``), so a held task may be written.

A write and the mapping it uses are one transaction. Before schema 2 the ledger was the
file ``ledger.jsonl``; records_migration.py moves it in (every line, in file order).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import sqlite3
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from trigon_sync.store import records_db

FieldMap = tuple[tuple[str, str], ...]
"""(Trigon field key, Uku field name) pairs, in catalogue order."""

SQL_IN_LIMIT = 500
"""Up to this many firms are asked for by index (``firm IN (...)``); more are filtered here."""
BATCH_ROWS = 2000
"""Rows fetched and parsed at a time (one ``json.loads`` for their counts): memory holds
one batch, not the period range."""


def fields_id(mapping: FieldMap) -> str:
    """A short stable id of one mapping (the same mapping always gets the same id)."""
    text = json.dumps([list(pair) for pair in mapping], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


class Written(NamedTuple):
    """One client's counts as written to Uku for one period, under the field names of then.

    A named tuple with the counts as a tuple aligned to ``keys`` (shared by every row of
    one mapping): a report over years handles 100,000s of these, and column sums over
    tuples run at C speed.
    """

    period: str
    firm: str
    registration_code: str
    name: str
    uku_client: int
    task: int
    action: str
    keys: tuple[str, ...]
    """The Trigon field keys, in the order of ``values``."""
    values: tuple[int, ...]
    columns: tuple[str, ...]
    """The Uku field names the values were written into, in the order of ``values``."""
    at: str

    @property
    def names(self) -> dict[str, str]:
        """Trigon field key -> the Uku field name it was written into."""
        return dict(zip(self.keys, self.columns, strict=True))

    @property
    def counts(self) -> dict[str, int]:
        """Trigon field key -> count."""
        return dict(zip(self.keys, self.values, strict=True))


@dataclass
class Ledger:
    """The ledger rows read, newest write per (firm, period)."""

    writes: dict[tuple[str, str], Written] = field(default_factory=dict)
    accepted: set[tuple[str, str]] = field(default_factory=set)
    """(firm, period) pairs an admin accepted despite a flag."""
    field_ids: set[str] = field(default_factory=set)
    """The mapping ids known to the database (a writer need not store them again)."""

    def periods(self) -> list[str]:
        return sorted({period for _, period in self.writes})

    def by_firm(self) -> dict[str, list[Written]]:
        """firm -> its writes, oldest period first."""
        found: dict[str, list[Written]] = {}
        for write in self.writes.values():
            found.setdefault(write.firm, []).append(write)
        period = operator.itemgetter(0)  # Written.period
        for writes in found.values():
            writes.sort(key=period)
        return found


class Accepted(NamedTuple):
    """An ``accept`` decision: the admin accepted ``firm``'s flagged counts for ``period``."""

    firm: str
    period: str


class FieldsLine(NamedTuple):
    """A mapping known to the database (a writer does not store it again)."""

    id: str


_MAPPINGS: dict[
    tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, ...], tuple[str, ...]]
] = {}


def _shared(
    keys: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One pair of tuples per mapping for the whole process, however often the ledger is
    read: a report compares mappings by identity (``write.keys is other.keys``) for its
    fast paths, also between writes read by different passes."""
    return _MAPPINGS.setdefault((keys, columns), (keys, columns))


def _maps(con: sqlite3.Connection) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every stored mapping by id (a few rows: one per mapping ever used)."""
    found: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for fid, text in con.execute("SELECT id, map FROM field_maps"):
        try:
            pairs = [(str(k), str(n)) for k, n in json.loads(text)]
        except (TypeError, ValueError):
            continue
        found[fid] = _shared(tuple(k for k, _ in pairs), tuple(n for _, n in pairs))
    return found


def _where(
    since: str | None, until: str | None, firms: Collection[str] | None
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its arguments) for rows of ``since``..``until`` and ``firms``;
    a large firm set is left to :func:`_wanted` (SQLite limits the arguments)."""
    clauses: list[str] = []
    args: list[Any] = []
    if since is not None:
        clauses.append("period >= ?")
        args.append(since)
    if until is not None:
        clauses.append("period <= ?")
        args.append(until)
    if firms is not None and len(firms) <= SQL_IN_LIMIT:
        clauses.append(f"firm IN ({','.join('?' * len(firms))})")
        args.extend(sorted(firms))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


_COLUMNS = "period, firm, code, name, uku_client, task, action, fields_id, counts, at"
"""A write's columns, in the order :func:`_writes` takes them."""


def _wanted(firms: Collection[str] | None) -> frozenset[str] | None:
    """The firms to keep in Python (a set too large for ``IN``), else None."""
    return frozenset(firms) if firms is not None and len(firms) > SQL_IN_LIMIT else None


def entries(
    *,
    since: str | None = None,
    until: str | None = None,
    firms: Collection[str] | None = None,
) -> Iterator[Written | Accepted | FieldsLine]:
    """The ledger's acceptances, then its writes (by period and firm, each (firm,
    period)'s newest last), read by index in batches; rows whose counts do not fit their
    mapping are skipped. Empty for a home without a records database.

    ``since`` and ``until`` (periods, inclusive) leave out the writes of other periods
    (acceptances are always kept); ``firms`` keeps only those Trigon firms' writes and
    acceptances. Texts repeated on every row (period, firm, name, time) are kept once
    (``sys.intern``): five years of one client's name cost one string.
    """
    db = records_db.shared()
    if db is None:
        return
    big = _wanted(firms)
    with db.read() as con:
        maps = _maps(con)
        where, args = _where(None, None, firms)
        accepts = con.execute(
            f"SELECT firm, period FROM ledger_accepts{where} ORDER BY seq",  # noqa: S608 - fixed text
            args,
        ).fetchall()
        where, args = _where(since, until, firms)
        cursor = con.execute(
            f"SELECT {_COLUMNS} FROM ledger_writes{where} ORDER BY period, firm, seq",  # noqa: S608 - fixed text
            args,
        )

    def batch() -> list[tuple[Any, ...]]:
        # the connection's lock per batch, never while a row is handed out: a run's
        # worker threads write through the same connection
        with db.read():
            return cursor.fetchmany(BATCH_ROWS)

    for fid in maps:
        yield FieldsLine(fid)
    for firm, period in accepts:
        if big is None or firm in big:
            yield Accepted(firm, period)
    yield from _writes(iter(batch, []), maps, big)


_NEWEST_BEFORE = """
SELECT {columns} FROM (SELECT DISTINCT firm FROM ledger_writes) AS f
JOIN ledger_writes AS w ON w.firm = f.firm AND w.period < ?1 AND w.period >= coalesce(
    (SELECT DISTINCT x.period FROM ledger_writes AS x WHERE x.firm = f.firm AND x.period < ?1
     ORDER BY x.period DESC LIMIT 1 OFFSET ?2 - 1),
    '')
ORDER BY w.firm, w.period, w.seq
"""
"""Each firm's writes of its newest ``?2`` periods before ``?1``, all on the (firm,
period) index: the firms from the index alone, per firm its ``?2``-th newest period
before ``?1`` (a few index entries walked back; none when it has fewer periods: all of
them), then that firm's rows from that period on. On five years at 5,000 clients this is
0.1 s where ranking every (firm, period) pair with a window function took 0.8 s."""


def newest_before(first: str, depth: int) -> Iterator[Written]:
    """Per firm, the writes of its newest ``depth`` periods before ``first`` (by firm, then
    period, each (firm, period)'s newest last), read by index in batches; rows whose counts
    do not fit their mapping are skipped. Empty for a home without a records database.

    What the monthly run's review needs from before its first period (a check looks back
    ``depth`` periods): five years at 5,000 clients read ``depth`` periods' rows, not
    sixty, and never hold more than a batch of them."""
    db = records_db.shared()
    if db is None:
        return
    columns = ", ".join(f"w.{c}" for c in _COLUMNS.split(", "))
    with db.read() as con:
        maps = _maps(con)
        cursor = con.execute(_NEWEST_BEFORE.format(columns=columns), (first, max(depth, 1)))

    def batch() -> list[tuple[Any, ...]]:
        with db.read():  # as in entries: never hold the lock while a row is handed out
            return cursor.fetchmany(BATCH_ROWS)

    yield from _writes(iter(batch, []), maps, None)


def _writes(
    batches: Iterator[list[tuple[Any, ...]]],
    maps: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]],
    big: frozenset[str] | None,
) -> Iterator[Written]:
    intern = sys.intern
    for rows in batches:
        try:
            all_counts = json.loads("[" + ",".join(row[8] for row in rows) + "]")
        except ValueError:
            all_counts = [_counts(row[8]) for row in rows]
        for row, counts in zip(rows, all_counts, strict=True):
            period, firm, code, name, client, task, action, fid, _, at = row
            mapping = maps.get(fid)
            if mapping is None or not isinstance(counts, list) or len(counts) != len(mapping[0]):
                continue
            if big is not None and firm not in big:
                continue
            yield Written(
                intern(period), intern(firm), intern(code), intern(name), client, task,
                intern(action), mapping[0], tuple(counts), mapping[1], intern(at),
            )  # fmt: skip


def _counts(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def newest_period() -> str | None:
    """The latest period any write is recorded for (the period index's last entry)."""
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        (newest,) = con.execute("SELECT max(period) FROM ledger_writes").fetchone()
    return None if newest is None else str(newest)


def mappings_used(
    *,
    since: str | None = None,
    until: str | None = None,
    firms: Collection[str] | None = None,
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The (keys, columns) of every mapping the writes of ``since``..``until`` used, the
    one first used earliest first (a tie: the one written first)."""
    db = records_db.shared()
    if db is None:
        return []
    big = _wanted(firms)
    where, args = _where(since, until, firms)
    with db.read() as con:
        maps = _maps(con)
        if big is None:
            grouped = f"SELECT fields_id, min(period), min(seq) FROM ledger_writes{where}"  # noqa: S608 - fixed text
            rows = con.execute(grouped + " GROUP BY fields_id", args).fetchall()
        else:
            first: dict[str, tuple[str, int]] = {}
            for fid, period, seq, firm in con.execute(
                f"SELECT fields_id, period, seq, firm FROM ledger_writes{where}",  # noqa: S608 - fixed text
                args,
            ):
                if firm in big:
                    first[fid] = min(first.get(fid, (period, seq)), (period, seq))
            rows = [(fid, period, seq) for fid, (period, seq) in first.items()]
    ordered = sorted(rows, key=operator.itemgetter(1, 2))
    return [maps[fid] for fid, _, _ in ordered if fid in maps]


def firms_named(wanted: str, since: str | None = None) -> set[str]:
    """The Trigon firm ids written under registration code or firm id ``wanted`` (from
    ``since`` on): for ``report --client`` of a client no longer linked."""
    db = records_db.shared()
    if db is None:
        return set()
    with db.read() as con:
        rows = con.execute(
            "SELECT DISTINCT firm FROM ledger_writes WHERE (firm = ? OR code = ?) AND period >= ?",
            (wanted, wanted, since or ""),
        ).fetchall()
    return {firm for (firm,) in rows}


def load(*, since: str | None = None, firms: Collection[str] | None = None) -> Ledger:
    """Read the ledger into memory (empty when there is none): newest write per (firm,
    period), with :func:`entries`' ``since`` and ``firms``."""
    ledger = Ledger()
    writes = ledger.writes
    for item in entries(since=since, firms=firms):
        if isinstance(item, Written):
            writes[(item.firm, item.period)] = item
        elif isinstance(item, Accepted):
            ledger.accepted.add((item.firm, item.period))
        else:
            ledger.field_ids.add(item.id)
    return ledger


class LedgerWriter:
    """Adds to the ledger from the run's worker threads; each write durable on return."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._known = set(known)

    def write(
        self,
        *,
        period: str,
        firm: str,
        registration_code: str,
        name: str,
        uku_client: int,
        task: int,
        action: str,
        mapping: FieldMap,
        counts: Mapping[str, int],
        at: dt.datetime,
        along: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Record one client's counts as Uku now holds them (the newest row wins); the
        mapping, the write and ``along`` (the run's journal row of the same client) in one
        transaction: a kill between a write recorded here and the journal's row made the
        next run adopt the task and record it a second time."""
        mapping = tuple(pair for pair in mapping if pair[0] in counts)
        fid = fields_id(mapping)
        row = (
            period,
            firm,
            registration_code,
            name,
            uku_client,
            task,
            action,
            fid,
            json.dumps([counts[key] for key, _ in mapping], separators=(",", ":")),
            at.isoformat(timespec="seconds"),
        )
        with self._lock, records_db.shared(create=True).transaction() as con:
            if fid not in self._known:
                con.execute(
                    "INSERT OR IGNORE INTO field_maps (id, map) VALUES (?, ?)",
                    (fid, json.dumps([list(p) for p in mapping], ensure_ascii=False)),
                )
            con.execute(
                "INSERT INTO ledger_writes (period, firm, code, name, uku_client, task,"
                " action, fields_id, counts, at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            if along is not None:
                along(con)
        self._known.add(fid)

    def accept(self, period: str, firm: str, at: dt.datetime) -> None:
        """Record that the admin accepted ``firm``'s flagged counts for ``period``."""
        with self._lock, records_db.shared(create=True).transaction() as con:
            con.execute(
                "INSERT INTO ledger_accepts (period, firm, at) VALUES (?, ?, ?)",
                (period, firm, at.isoformat(timespec="seconds")),
            )
