"""The run history in the records database: one row per run record, nothing cut at a limit.

Every command that changes the home leaves a run record (``State.record``): ``history``,
``status``, ``explain`` and ``accept`` read them. They used to be ``[[history]]`` tables in
state.toml, which then grew a record a night and was cut at 1,000 records, silently
dropping the oldest nights. Now each record is a row of ``run_history`` (records_db.py):
``at``, ``command`` and ``result`` as columns (an index on ``at``), and the whole record
as it was written (``document``) so it reads back exactly: TOML's dates and times, which
JSON lacks, are kept as tagged strings (``{"$date": "2024-10-31"}``).

Existing homes: the first command that writes (``state.locked_state``) moves state.toml's
``[[history]]`` here (:func:`adopt`) in one transaction with the mark ``history_migrated``
in ``meta``, after keeping the old state.toml in the migrated folder; then state.toml is
saved without it. A kill between the commit and that save leaves the records in both
places: the mark says they are in, so they are dropped from state.toml and never added
twice (and readers ignore state.toml's copy once the mark is there).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from trigon_sync.records.tables import MONTHLY_COMMAND, RunRecord, last_recorded
from trigon_sync.store import records_db
from trigon_sync.store.toml_values import without_none

MIGRATED_KEY = "history_migrated"

_TAGS: dict[str, type] = {"$datetime": dt.datetime, "$date": dt.date, "$time": dt.time}


def _encode(value: Any) -> Any:
    """A TOML value as JSON, dates and times tagged (datetime first: it is a date too)."""
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            [(key, text)] = value.items()
            kind = _TAGS.get(key)
            if kind is not None and isinstance(text, str):
                return kind.fromisoformat(text)  # type: ignore[attr-defined]
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _row(record: RunRecord) -> tuple[str, str, str, str]:
    # as state.toml held it: no None at any depth (TOML has no null)
    doc = without_none(record.to_document())
    return (
        str(doc.get("at", "")),
        str(doc.get("command", "")),
        str(doc.get("result", "")),
        json.dumps(_encode(doc), ensure_ascii=False),
    )


def _record(document: str) -> RunRecord:
    return RunRecord.from_document(_decode(json.loads(document)))


def _insert(con: sqlite3.Connection, records: Iterable[RunRecord]) -> None:
    con.executemany(
        "INSERT INTO run_history (at, command, result, document) VALUES (?, ?, ?, ?)",
        [_row(record) for record in records],
    )


def append(
    records: Sequence[RunRecord],
    effects: Sequence[Callable[[sqlite3.Connection], None]] = (),
) -> None:
    """Add records, in order, in one durable transaction, with the ``effects`` that
    belong to them (an unlink's end of its client's owed pairs, store/owed.py).

    The first one also marks the history as moved in: a session's records are appended
    only after ``locked_state`` moved state.toml's old ones (``State.legacy_history``
    is empty by then), so from here on readers need not read state.toml for history."""
    if not records:
        return
    with records_db.shared(create=True).transaction() as con:
        _insert(con, records)
        for effect in effects:
            effect(con)
        con.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (MIGRATED_KEY, records[0].at)
        )


def migrated() -> bool:
    """Whether state.toml's old ``[[history]]`` has been moved in (then ignore it)."""
    db = records_db.shared()
    if db is None:
        return False
    with db.read() as con:
        found = con.execute("SELECT 1 FROM meta WHERE key = ?", (MIGRATED_KEY,)).fetchone()
    return found is not None


def adopt(records: Sequence[RunRecord], at: str) -> bool:
    """Move state.toml's old records in, once (the caller holds the state lock); False
    when an earlier, interrupted migration already did."""
    with records_db.shared(create=True).transaction() as con:
        found = con.execute("SELECT 1 FROM meta WHERE key = ?", (MIGRATED_KEY,)).fetchone()
        if found is not None:
            return False
        # before any record written since: the old ones are older
        _insert(con, records)
        con.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (MIGRATED_KEY, at))
    return True


def read_all() -> list[RunRecord]:
    """Every record in the order written (oldest first)."""
    db = records_db.shared()
    if db is None:
        return []
    with db.read() as con:
        rows = con.execute("SELECT document FROM run_history ORDER BY seq").fetchall()
    return [_record(document) for (document,) in rows]


def from_day(day: dt.date) -> list[RunRecord]:
    """The records made on ``day`` or later, oldest first, read by the index on ``at``
    (a record's time carries its UTC offset: one made late on the day before may sort
    among them, so callers that need an exact day check the record themselves)."""
    db = records_db.shared()
    if db is None:
        return []
    with db.read() as con:
        rows = con.execute(
            "SELECT document FROM run_history WHERE at >= ? ORDER BY seq", (day.isoformat(),)
        ).fetchall()
    return [_record(document) for (document,) in rows]


def last_monthly() -> RunRecord | None:
    """The newest ``run-monthly`` record (a re-count included)."""
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        found = con.execute(
            "SELECT document FROM run_history WHERE command = ? OR command LIKE ? "
            "ORDER BY seq DESC LIMIT 1",
            (MONTHLY_COMMAND, MONTHLY_COMMAND + " %"),
        ).fetchone()
    return None if found is None else _record(found[0])


def latest_at() -> dt.datetime | None:
    """The latest time any record was made (the clock guard's mark), read by the index
    on ``at``: the largest text, then every record from the day before it on (a record
    with another UTC offset may be later by the clock yet smaller as text, by at most a
    day), never the whole history. Unreadable times and times without a zone are skipped."""
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        (top,) = con.execute("SELECT max(at) FROM run_history").fetchone()
        if top is None:
            return None
        try:
            floor = (dt.date.fromisoformat(str(top)[:10]) - dt.timedelta(days=1)).isoformat()
        except ValueError:
            floor = ""  # an unreadable largest text: every record is looked at
        rows = con.execute("SELECT at FROM run_history WHERE at >= ?", (floor,)).fetchall()
    return last_recorded(RunRecord(str(at), "", "") for (at,) in rows)


def newest(limit: int, *, monthly_only: bool) -> tuple[int, list[RunRecord]] | None:
    """How many records there are and the newest ``limit`` of them, newest first, read
    by index (neither the others nor state.toml are read); ``monthly_only`` counts only
    ``run-monthly`` records. None while state.toml's old history is not moved in (the
    caller reads it with the state)."""
    if not migrated():
        return None
    db = records_db.shared()
    if db is None:  # pragma: no cover - migrated() found the database
        return None
    where = "WHERE command = ? OR command LIKE ?" if monthly_only else ""
    args: tuple[str, ...] = (MONTHLY_COMMAND, MONTHLY_COMMAND + " %") if monthly_only else ()
    with db.read() as con:
        (total,) = con.execute(f"SELECT count(*) FROM run_history {where}", args).fetchone()  # noqa: S608 - fixed text
        rows = con.execute(
            f"SELECT document FROM run_history {where} ORDER BY seq DESC LIMIT ?",  # noqa: S608 - fixed text
            (*args, max(limit, 0)),
        ).fetchall()
    return int(total), [_record(document) for (document,) in rows]
