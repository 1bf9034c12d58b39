"""The monthly run's memory of finished clients and announced creates, per period.

A run over hundreds of clients can die anywhere (cron killed, power cut, Uku down). So
every client that is finished in Uku gets one durable row (a ``done`` row of
``task_events`` in the records database, records_db.py) at once, and the next run skips
exactly those. The cost is one short transaction per client, never a rewrite of
state.toml per client (O(clients²)). When every client of the period is done, the run
folds the period into state.toml (``[journal.completed]``) and marks its rows archived
(the ``<period>.jsonl.done`` file of old, kept as an audit trail).

A client is done only while its task is there: a run that finds the recorded task gone
from the client in Uku (deleted or moved by a person) records a ``gone`` row for it
(:meth:`PeriodJournal.lose`), after which the client counts as not done until a later
row records the task made again. ``run-monthly --rerun`` of a completed period writes
its ``gone``, intent and restore rows among the archived ones.

Rows are read by index (period, archived, firm): a run reads its period's rows,
``explain`` one client's.

Inside ``state.journal`` (read into ``state_records.Periods``, edited by records/periods.py):

* ``period``, ``import_day``, ``window_start``, ``window_end``, ``started_at``: the period
  a run has started but not finished. Present means "a monthly run is in progress", and
  a later run resumes that exact window even if the schedule was changed meanwhile;
* ``topic_id``: the Uku topic the open period writes into, so a topic changed in
  map-fields meanwhile applies from the next period and the period's tasks are looked
  for where they were written;
* ``completed.<period>``: the window and totals of each finished period, which
  ``run-monthly --rerun`` uses to re-count the same days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from trigon_sync.schedule.rules import Run
from trigon_sync.store import records_db


def read_period(run: Run, firms: Collection[str] | None = None) -> dict[str, Entry]:
    """The finished clients of ``run``'s period, archived or open: the archived rows, then
    the open ones (a row there is newer). ``firms`` as :meth:`PeriodJournal.load`."""
    found: dict[str, Entry] = {}
    for archived in (True, False):
        found.update(PeriodJournal(run, archived=archived).load(firms))
    return found


# -- one period's rows ------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """What a run found: the task the journal records for a client is no longer on that
    client in Uku (a person deleted it, or moved it onto another client)."""

    task: int
    client: int
    """The Uku client the task was made for."""
    moved_to: int | None = None
    """The Uku client it sits on now; None when Uku no longer has the task."""
    at: str = ""
    """When the run found it (ISO time)."""

    @property
    def how(self) -> str:
        return "deleted" if self.moved_to is None else "moved"

    @property
    def described(self) -> str:
        """``deleted in Uku`` or ``moved in Uku to client N``: for messages."""
        if self.moved_to is None:
            return "deleted in Uku"
        return f"moved in Uku to client {self.moved_to}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One finished client of one period: which task holds its counts."""

    firm: str
    client: int
    task: int
    action: str
    counts: Mapping[str, int] = field(default_factory=dict)
    lost: Loss | None = None
    """Set by :meth:`PeriodJournal.load` when a later line says a run found this task gone
    from the client: the client is then no longer done (never written with the entry)."""
    earlier: Loss | None = None
    """The loss of the task this one replaced, when it was made again (for ``explain``)."""


_SELECT_DONE = (
    "SELECT kind, firm, client, task, action, {counts}, moved_to, at FROM task_events WHERE "
)
_SELECT_INTENT = "SELECT firm, at FROM task_events WHERE "
_COUNT_ACTIONS = "SELECT action, count(*) FROM (SELECT action, max(seq) FROM task_events WHERE "
SQL_IN_LIMIT = 500
"""Up to this many firms are asked for by index (``firm IN (...)``); more are filtered here."""


class PeriodJournal:
    """The rows of one period's window: finished clients, losses, announced creates.

    ``archived``: the rows of a completed period (``run-monthly --rerun`` writes there)."""

    def __init__(self, run: Run, *, archived: bool = False) -> None:
        self.run = run
        self.archived = archived
        self._lock = threading.Lock()
        self.appended = 0

    def _where(self, firms: Collection[str] | None) -> tuple[str, list[Any]]:
        where = "period = ? AND archived = ? AND window_start = ? AND window_end = ?"
        args: list[Any] = [
            self.run.period,
            int(self.archived),
            self.run.window_start.isoformat(),
            self.run.window_end.isoformat(),
        ]
        if firms is not None and len(firms) <= SQL_IN_LIMIT:
            where += f" AND firm IN ({','.join('?' * len(firms))})"
            args.extend(firms)
        return where, args

    def load(
        self, firms: Collection[str] | None = None, *, with_counts: bool = True
    ) -> dict[str, Entry]:
        """Finished clients by Trigon firm id (rows of another window are not this run's).

        ``firms``: only those clients' rows (``explain``, the review's look back), read
        by index. ``with_counts=False``: each entry's counts left empty, for a caller that
        needs only which task each client has (a re-count: every client's counts parsed
        were its memory peak at 5,000 clients)."""
        db = records_db.shared()
        if db is None:
            return {}
        where, args = self._where(firms)
        done: dict[str, Entry] = {}
        losses: dict[str, Loss] = {}
        # rows streamed, not fetched all at once, and without the counts' text when they
        # are not wanted: a period's rows at 5,000 clients were a re-count's memory peak
        select = _SELECT_DONE.format(counts="counts" if with_counts else "NULL")
        with db.read() as con:
            rows = con.execute(select + where + " AND kind != 'intent' ORDER BY seq", args)
            for kind, firm, client, task, action, counts, moved_to, at in rows:
                if firms is not None and firm not in firms:
                    continue
                if kind == "gone":
                    loss = Loss(task=task, client=client, moved_to=moved_to, at=at or "")
                    losses[firm] = loss
                    entry = done.get(firm)
                    if entry is not None and entry.task == loss.task:
                        done[firm] = dataclasses.replace(entry, lost=loss)
                    continue
                earlier = losses.get(firm)
                done[firm] = Entry(
                    firm=firm,
                    client=client,
                    task=task,
                    action=action,
                    counts=json.loads(counts) if counts else {},
                    earlier=earlier if earlier is not None and earlier.task != task else None,
                )
        return done

    def actions(self) -> Counter[str]:
        """How many finished clients each action has (``create``, ``update``, ...): the
        newest ``done`` row per firm, counted in SQL. The period's record needs only these
        numbers; :meth:`load` would parse every client's counts to give them (5,000 rows,
        the monthly run's memory peak)."""
        db = records_db.shared()
        if db is None:
            return Counter()
        where, args = self._where(None)
        # SQLite takes ``action`` from the row holding max(seq): each firm's newest row
        query = _COUNT_ACTIONS + where + " AND kind = 'done' GROUP BY firm) GROUP BY action"
        with db.read() as con:
            return Counter(dict(con.execute(query, args).fetchall()))

    def append(
        self, entry: Entry, at: dt.datetime, *, within: sqlite3.Connection | None = None
    ) -> None:
        """Record one finished client, durably, before returning (called from worker
        threads); ``within``: in that open transaction instead (the ledger's write of the
        same client, monthly/step.py), which commits both or neither."""
        self._insert(
            "done",
            entry.firm,
            within=within,
            client=entry.client,
            task=entry.task,
            action=entry.action,
            counts=json.dumps(dict(entry.counts), ensure_ascii=False),
            at=at.isoformat(timespec="seconds"),
        )
        with self._lock:
            self.appended += 1

    def lose(self, firm: str, loss: Loss) -> None:
        """Record, before anything is made again, that a run found this client's task gone
        from it in Uku: from this row on the client is not done (``load``), and
        ``explain`` can say what the run saw."""
        self._insert(
            "gone", firm, client=loss.client, task=loss.task, moved_to=loss.moved_to, at=loss.at
        )

    def intend(self, firm: str, client: int, at: dt.datetime) -> None:
        """Record, durably and *before* sending it, that a create of this client's task is
        about to be sent. A run that dies before the answer leaves this row, and the next
        run knows Uku may hold a task it cannot list yet (see monthly/task_writer.py)."""
        self._insert("intent", firm, client=client, at=_sent_at(at))

    def intents(self) -> dict[str, dt.datetime]:
        """Firm id -> when its latest create was sent, for this window (finished or not)."""
        db = records_db.shared()
        if db is None:
            return {}
        where, args = self._where(None)
        with db.read() as con:
            query = _SELECT_INTENT + where + " AND kind = 'intent' ORDER BY seq"
            rows = con.execute(query, args).fetchall()
        found: dict[str, dt.datetime] = {}
        for firm, at in rows:
            try:
                found[firm] = dt.datetime.fromisoformat(at)
            except ValueError:
                continue
        return found

    def _insert(
        self, kind: str, firm: str, *, within: sqlite3.Connection | None = None, **values: Any
    ) -> None:
        row = {
            "period": self.run.period,
            "archived": int(self.archived),
            "kind": kind,
            "firm": firm,
            "window_start": self.run.window_start.isoformat(),
            "window_end": self.run.window_end.isoformat(),
            **values,
        }
        names = ", ".join(row)  # this method's own keys, never outside text
        sql = f"INSERT INTO task_events ({names}) VALUES ({', '.join('?' * len(row))})"  # noqa: S608
        if within is not None:
            within.execute(sql, tuple(row.values()))
            return
        with records_db.shared(create=True).transaction() as con:
            con.execute(sql, tuple(row.values()))

    def archive(self) -> None:
        """The period is folded into state: keep its rows as the archived audit trail."""
        db = records_db.shared()
        if db is None:
            return
        with db.transaction() as con:
            con.execute(
                "UPDATE task_events SET archived = 1 WHERE period = ? AND archived = 0",
                (self.run.period,),
            )


def has_rows(period: str) -> bool:
    """Whether any run wrote a row for ``period`` (a dry run never does)."""
    db = records_db.shared()
    if db is None:
        return False
    with db.read() as con:
        found = con.execute("SELECT 1 FROM task_events WHERE period = ? LIMIT 1", (period,))
        return found.fetchone() is not None


class ClientIntents:
    """``confirm``'s memory of client creates sent but not yet linked in state.toml.

    One durable row per create, written *before* it is sent; a later confirm that finds
    a row for a firm knows Uku may hold that client without listing it yet, and looks
    again once Uku's lists have caught up instead of creating a second one. The rows are
    removed when a confirm ends with every row done.
    """

    def intend(self, firm: str, code: str, at: dt.datetime) -> None:
        with records_db.shared(create=True).transaction() as con:
            con.execute(
                "INSERT INTO client_intents (firm, code, at) VALUES (?, ?, ?)",
                (firm, code, _sent_at(at)),
            )

    def load(self) -> dict[str, dt.datetime]:
        """Firm id -> when its latest client create was sent."""
        db = records_db.shared()
        if db is None:
            return {}
        with db.read() as con:
            rows = con.execute("SELECT firm, at FROM client_intents ORDER BY seq").fetchall()
        found: dict[str, dt.datetime] = {}
        for firm, at in rows:
            try:
                found[firm] = dt.datetime.fromisoformat(at)
            except ValueError:
                continue
        return found

    def clear(self) -> None:
        db = records_db.shared()
        if db is None:
            return
        with db.transaction() as con:
            con.execute("DELETE FROM client_intents")


def _sent_at(at: dt.datetime) -> str:
    """When a create was sent, to the microsecond: the next run waits ``settle_seconds``
    from this moment, so a time cut to the second would shorten that wait by up to 1 s
    and let a listing that is too early decide that a client or task is absent."""
    return at.isoformat(timespec="microseconds")


# -- what the run history has accounted for ---------------------------------------------

_ACCOUNTED_KEY = "journal_accounted:"
"""``meta`` key prefix: the last ``task_events`` row of a period a run record accounts for."""


def _accounted_seq(con: sqlite3.Connection, period: str) -> int:
    """The period's last row some run record already counts (its ``tasks_created`` and
    ``tasks_updated``, or ``done_earlier``). A home whose runs recorded before this mark
    existed: the rows written before its newest ``run-monthly`` record."""
    found = con.execute("SELECT value FROM meta WHERE key = ?", (_ACCOUNTED_KEY + period,))
    mark = found.fetchone()
    if mark is not None:
        return int(mark[0])
    (seq,) = con.execute(
        "SELECT max(seq) FROM task_events WHERE period = ? AND at <= "
        "(SELECT max(at) FROM run_history WHERE command LIKE 'run-monthly%')",
        (period,),
    ).fetchone()
    return int(seq or 0)


def unrecorded(period: str, firms: Collection[str]) -> int:
    """How many of ``firms`` (clients a run found done by an earlier run) got their task
    from a run that left no record: one killed with SIGKILL (or a power cut) between
    writing tasks and recording itself. Their ``done`` rows are newer than the last row
    any run record accounts for; the record that says this number accounts for them."""
    db = records_db.shared()
    if db is None or not firms:
        return 0
    with db.read() as con:
        after = _accounted_seq(con, period)
        rows = con.execute(
            "SELECT DISTINCT firm FROM task_events WHERE period = ? AND kind = 'done' AND seq > ?",
            (period, after),
        )
        return sum(1 for (firm,) in rows if firm in firms)


def account(period: str) -> Callable[[sqlite3.Connection], None]:
    """The effect, in the transaction that adds a run's record, that marks every row of
    ``period`` written so far as counted by a record (:func:`unrecorded` skips them)."""

    def mark(con: sqlite3.Connection) -> None:
        (seq,) = con.execute(
            "SELECT max(seq) FROM task_events WHERE period = ?", (period,)
        ).fetchone()
        if seq is not None:
            con.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_ACCOUNTED_KEY + period, str(seq)),
            )

    return mark
