"""Owed (client, period) pairs: the ``client_periods`` table of the records database.

A period's window moves the global marker once the period was attempted for every linked
client (monthly/run.py); a client that failed in it *owes* that period. Its row here says
so, with the reason and since when, and every later run retries it first, on that period's
own window, until its task exists (``done``), an admin waives it (``waived``, with the
reason), or the client is unlinked (``dropped``: :func:`drop_unlinked`, in the same
transaction as the unlink's history record, dated with the unlink's Tallinn date and
keeping the reason it was owed for). A dropped pair is never reopened, so a client linked
again later is counted from the next period, as any newly linked client; rows of clients
unlinked by an earlier version still say ``owed``: only linked clients are retried.

The exactly-once machinery is not here: a retry writes its intent and done rows into the
period's journal rows (journal.py) like any run, and this table only says which pairs are
still open.

**Dates.** ``owed_since`` and ``updated_at`` are Tallinn dates (``YYYY-MM-DD``), the day of
the run or command that wrote them: the run's ``today`` (the clock's Tallinn date, or
``--today`` on a replayed night), so a pair owed on a replayed 31.10.2024 says so in every
view, and how long it has been owed is counted from that date (:func:`days_owed`). Rows
written by an earlier version hold a time there; only its date is read.

**Late tasks.** A ``done`` row exists only for a pair that was owed (:func:`settle` of a
pair never owed is a no-op): its task was made on a later night than its period's run, on
``updated_at`` (:func:`late`, for ``report``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from trigon_sync.store import records_db


@dataclass(frozen=True)
class OwedPair:
    """One client's period that has no task yet (or was waived)."""

    firm: str
    period: str
    status: str
    """``owed``, ``done``, ``waived`` or ``dropped`` (owed when its client was unlinked)."""
    reason: str
    since: str
    """The Tallinn date it was first owed (ISO); for waived and done pairs, still that."""
    updated_at: str
    """The Tallinn date of the last change: when it was cleared (done), waived or dropped."""

    def age_days(self, today: dt.date) -> int:
        """How many days it has been owed, for cron mail."""
        return days_owed(self.since, today)


def days_owed(since: str, today: dt.date) -> int:
    """Days from the date a pair became owed (``since``, ISO) to ``today``: the one rule
    for the age that cron mail, ``status``, ``doctor`` and ``history`` show."""
    try:
        first = dt.date.fromisoformat(since[:10])
    except ValueError:
        return 0
    return max(0, (today - first).days)


_COLUMNS = "firm, period, status, reason, owed_since, updated_at"


def _pair(row: tuple[str, str, str, str | None, str | None, str]) -> OwedPair:
    firm, period, status, reason, since, updated = row
    return OwedPair(firm, period, status, reason or "", (since or updated)[:10], updated[:10])


def owe(firm: str, period: str, reason: str, on: dt.date) -> None:
    """Record that ``firm`` owes ``period`` since ``on`` (the run's Tallinn date; a pair
    owed before keeps its first date); a waived pair stays waived, a done pair is not
    reopened by a late failure report."""
    stamp = on.isoformat()
    with records_db.shared(create=True).transaction() as con:
        con.execute(
            "INSERT INTO client_periods (firm, period, status, reason, owed_since, updated_at) "
            "VALUES (?, ?, 'owed', ?, ?, ?) ON CONFLICT (firm, period) DO UPDATE SET "
            "reason = excluded.reason, updated_at = excluded.updated_at "
            "WHERE client_periods.status = 'owed'",
            (firm, period, reason, stamp, stamp),
        )


def settle(firm: str, period: str, client: int, task: int, on: dt.date) -> None:
    """The pair's task exists now, made on ``on`` (the run's Tallinn date): it is no
    longer owed (a no-op for a pair never owed)."""
    db = records_db.shared()
    if db is None:
        return
    with db.transaction() as con:
        con.execute(
            "UPDATE client_periods SET status = 'done', uku_client = ?, task = ?, "
            "updated_at = ? WHERE firm = ? AND period = ? AND status = 'owed'",
            (client, task, on.isoformat(), firm, period),
        )


def waive(firm: str, period: str, reason: str, on: dt.date) -> bool:
    """An admin's decision (on the Tallinn date ``on``) that this pair gets no task; False
    when it was not owed."""
    db = records_db.shared()
    if db is None:
        return False
    with db.transaction() as con:
        changed = con.execute(
            "UPDATE client_periods SET status = 'waived', reason = ?, updated_at = ? "
            "WHERE firm = ? AND period = ? AND status = 'owed'",
            (reason, on.isoformat(), firm, period),
        ).rowcount
    return bool(changed)


def drop_unlinked(con: sqlite3.Connection, firm: str, on: dt.date) -> None:
    """End every pair ``firm`` still owes, for good: its client is being unlinked on ``on``
    (its Tallinn date). Run inside the transaction that records the unlink (the caller's
    ``con``), so the two never part: a later link of the same firm starts from the next
    period instead of retrying these (``owe`` never reopens a dropped pair)."""
    con.execute(
        "UPDATE client_periods SET status = 'dropped', updated_at = ? "
        "WHERE firm = ? AND status = 'owed'",
        (on.isoformat(), firm),
    )


def any_owed() -> bool:
    """Whether any pair is owed (a quick question for a night with no import day: the
    records database is opened only when it exists)."""
    db = records_db.shared()
    if db is None:
        return False
    with db.read() as con:
        row = con.execute("SELECT 1 FROM client_periods WHERE status = 'owed' LIMIT 1")
        return row.fetchone() is not None


def pairs(status: str = "owed", firm: str | None = None) -> list[OwedPair]:
    """Pairs with ``status``, oldest period first (one firm's, with ``firm``)."""
    db = records_db.shared()
    if db is None:
        return []
    query = f"SELECT {_COLUMNS} FROM client_periods WHERE status = ?"  # noqa: S608
    args: list[str] = [status]
    if firm is not None:
        query += " AND firm = ?"
        args.append(firm)
    with db.read() as con:
        rows = con.execute(query + " ORDER BY period, firm", args).fetchall()
    return [_pair(row) for row in rows]


def pair(firm: str, period: str) -> OwedPair | None:
    """One pair's row, whatever its status (for ``explain``)."""
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        row = con.execute(
            f"SELECT {_COLUMNS} FROM client_periods WHERE firm = ? AND period = ?",  # noqa: S608
            (firm, period),
        ).fetchone()
    return None if row is None else _pair(row)


def late(periods: Sequence[str]) -> dict[tuple[str, str], OwedPair]:
    """(firm, period) -> its ``done`` row, for the pairs of ``periods`` whose task was made
    late: after the client had owed the period (``since``), on ``updated_at``."""
    db = records_db.shared()
    if db is None or not periods:
        return {}
    marks = ", ".join("?" for _ in periods)
    query = (
        f"SELECT {_COLUMNS} FROM client_periods "  # noqa: S608
        f"WHERE status = 'done' AND period IN ({marks})"
    )
    with db.read() as con:
        rows = con.execute(query, list(periods)).fetchall()
    return {(p.firm, p.period): p for p in map(_pair, rows)}
