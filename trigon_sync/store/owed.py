"""Owed (client, period) pairs: the ``client_periods`` table of the records database.

A period's window moves the global marker once the period was attempted for every linked
client (monthly/run.py); a client that failed in it *owes* that period. Its row here says
so, with the reason and since when, and every later run retries it first, on that period's
own window, until its task exists (``done``), an admin waives it (``waived``, with the
reason), or the client is unlinked (the row stays ``owed`` but only linked clients are
retried). The exactly-once machinery is not here: a retry writes its intent and done rows
into the period's journal rows (journal.py) like any run, and this table only says which
pairs are still open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from trigon_sync.store import records_db


@dataclass(frozen=True)
class OwedPair:
    """One client's period that has no task yet (or was waived)."""

    firm: str
    period: str
    status: str
    """``owed``, ``done`` or ``waived``."""
    reason: str
    since: str
    """When it was first owed (ISO time); for waived pairs, still the owing time."""
    updated_at: str

    def age_days(self, today: dt.date) -> int:
        """How many days it has been owed, for cron mail."""
        try:
            first = dt.date.fromisoformat(self.since[:10])
        except ValueError:
            return 0
        return max(0, (today - first).days)


_COLUMNS = "firm, period, status, reason, owed_since, updated_at"


def _pair(row: tuple[str, str, str, str | None, str | None, str]) -> OwedPair:
    firm, period, status, reason, since, updated = row
    return OwedPair(firm, period, status, reason or "", since or updated, updated)


def owe(firm: str, period: str, reason: str, at: dt.datetime) -> None:
    """Record that ``firm`` owes ``period`` (keeping when it was first owed); a waived
    pair stays waived, a done pair is not reopened by a late failure report."""
    stamp = at.isoformat(timespec="seconds")
    with records_db.shared(create=True).transaction() as con:
        con.execute(
            "INSERT INTO client_periods (firm, period, status, reason, owed_since, updated_at) "
            "VALUES (?, ?, 'owed', ?, ?, ?) ON CONFLICT (firm, period) DO UPDATE SET "
            "reason = excluded.reason, updated_at = excluded.updated_at "
            "WHERE client_periods.status = 'owed'",
            (firm, period, reason, stamp, stamp),
        )


def settle(firm: str, period: str, client: int, task: int, at: dt.datetime) -> None:
    """The pair's task exists now: it is no longer owed (a no-op for a pair never owed)."""
    db = records_db.shared()
    if db is None:
        return
    with db.transaction() as con:
        con.execute(
            "UPDATE client_periods SET status = 'done', uku_client = ?, task = ?, "
            "updated_at = ? WHERE firm = ? AND period = ? AND status = 'owed'",
            (client, task, at.isoformat(timespec="seconds"), firm, period),
        )


def waive(firm: str, period: str, reason: str, at: dt.datetime) -> bool:
    """An admin's decision that this pair gets no task; False when it was not owed."""
    db = records_db.shared()
    if db is None:
        return False
    with db.transaction() as con:
        changed = con.execute(
            "UPDATE client_periods SET status = 'waived', reason = ?, updated_at = ? "
            "WHERE firm = ? AND period = ? AND status = 'owed'",
            (reason, at.isoformat(timespec="seconds"), firm, period),
        ).rowcount
    return bool(changed)


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
