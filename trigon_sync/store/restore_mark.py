"""A home restored from a backup: from when its records may lack creates it sent.

``trigon-sync backup`` copies ``records.sqlite3`` in one snapshot while a command may go
on writing. The create intents committed after the snapshot (each before its create is
sent) are not in the copy, and neither are the creates of any command after it: task
creates of ``run-monthly``, client creates of ``confirm`` and of the run's automatic
client import. A restored home finds those in Uku (a task by its identity token, a client
by its registration code), but only once Uku *lists* them: the real Uku shows a new task
or client a while after its create (``[uku] settle_seconds`` bounds that), and ignores
the Idempotency-Key. A command that starts within that while of the lost home's last
create would not see it, would not know it had been sent, and would create a second
one: a doubled invoice, or a duplicate Uku client (its tasks then split between the two).

So the copy carries the moment of its snapshot, and a command in a home restored from it
treats every create it has not recorded as done as *possibly announced*, exactly like a
create whose answer was lost (monthly/actions.py ``announced``, clients/creator.py
``pending``): it waits until Uku's lists show what was sent before that moment, lists
again, adopts what it finds and creates only what is absent.

The moment is not the snapshot itself: the lost home may have gone on creating for
minutes after it (a long run, later nights). What is known is that every create the lost
home sent was sent before the restored home's first creating command began (the restore
section of docs/operations.md asks that the lost home has stopped). So:

* ``backup`` writes :data:`SNAPSHOT_KEY` (when the snapshot was taken, a moment before
  SQLite's online backup started) into the *copy's* ``meta`` table, never the live home's
  (:func:`mark_copy`).
* The first real command that creates in a home whose database has that row (a monthly
  run, ``confirm``, the run's automatic client import: whichever comes first) writes
  :data:`FIRST_RUN_KEY` (its own start) beside it, once. Every such command until the
  mark is cleared treats unrecorded creates as announced at the later of the two
  (:func:`pending`). The moment is one and shared: it bounds what the lost
  home sent of tasks and of clients alike, so each kind of command waits for it once
  (the first ``confirm`` and the first monthly run, if both start within
  ``settle_seconds`` of it), whatever the backup's age.
* A command that starts ``settle_seconds`` or more after that moment clears both rows,
  whichever command it is: its own listing, and every later one of tasks or of clients,
  starts after all that the lost home sent could show, so the mark has done its job for
  both. (A mark per command would make a monthly run a month later still wait for a
  ``confirm`` that never came.) An ordinary home costs one read of a small table and no
  wait; once cleared, the dry run shows new clients as plain creates again.

A dry run reads the mark and never writes it.

A command that finds the mark still needed says so, once, on a line every channel
carries (stderr under cron too, the log, ``--json``): :meth:`Mark.note` (the dry run's
:meth:`Mark.dry_run_note`), and its wait for Uku's lists names the restore as its reason
(:meth:`Mark.wait_reason`), not a lost answer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from trigon_sync import clock
from trigon_sync.dates import format_ee_time
from trigon_sync.errors import StateError
from trigon_sync.store import records_db

SNAPSHOT_KEY = "restore_snapshot_at"
"""``meta`` key in a backup's copy: when its snapshot was taken (ISO, to the microsecond)."""
FIRST_RUN_KEY = "restore_first_run_at"
"""``meta`` key a restored home's first real creating command (a monthly run, ``confirm``)
writes: when it started."""


@dataclass(frozen=True)
class Mark:
    """A restored home's mark that is still needed: what a command reads of it."""

    at: dt.datetime
    """The moment every create not recorded as done counts as announced at."""
    snapshot: dt.datetime
    """When the backup's snapshot was taken (what a person is told)."""

    @property
    def taken(self) -> str:
        """``07.12.2026 07:40``: the snapshot's moment as a person reads it (Tallinn)."""
        return format_ee_time(self.snapshot.astimezone(clock.TALLINN).isoformat())

    def why(self) -> str:
        """Why a create counts as announced: the reason a plan and a wait give."""
        return f"the home was restored from a backup taken {self.taken}"

    def wait_reason(self) -> str:
        """What the wait for Uku's lists waits for (http/waits.py's ``why``)."""
        return f"its lists to show what the earlier home created ({self.why()})"

    def note(self, settle_seconds: float) -> str:
        """The one line a real command prints (and logs) in a restored home."""
        return (
            f"restored from a backup taken {self.taken}: waiting up to "
            f"{_seconds(settle_seconds)} for Uku to list what the earlier home created "
            "before creating anything"
        )

    def dry_run_note(self, settle_seconds: float) -> str:
        """The dry run's line: what the real run will do, nothing waited for here."""
        return (
            f"restored from a backup taken {self.taken}: the real run waits up to "
            f"{_seconds(settle_seconds)} for Uku to list what the earlier home created, "
            "adopts each task it finds and creates only the rest"
        )


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _iso(at: dt.datetime) -> str:
    return at.isoformat(timespec="microseconds")


def mark_copy(copy: Path, snapshot_at: dt.datetime) -> bool:
    """Write the snapshot's moment into the copied database ``copy`` (never the home's).

    ``snapshot_at`` is taken before the online backup starts, so every intent missing
    from the copy was committed after it. False (nothing written) for a database with no
    ``meta`` table yet (schema 0: an empty file, which holds no intent either)."""
    try:
        with contextlib.closing(sqlite3.connect(copy, isolation_level=None)) as con:
            con.execute("PRAGMA synchronous = FULL")
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            ).fetchone()
            if found is None:
                return False
            with con:
                con.execute("BEGIN IMMEDIATE")
                # a backup of a restored home whose mark no run has cleared: the new moment
                con.execute("DELETE FROM meta WHERE key IN (?, ?)", (SNAPSHOT_KEY, FIRST_RUN_KEY))
                con.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    (SNAPSHOT_KEY, _iso(snapshot_at)),
                )
    except sqlite3.Error as exc:
        raise StateError(
            f"cannot write the copy {copy} ({exc})",
            hint="free space or fix permissions where the backup goes; the home is unchanged",
        ) from None
    return True


def _parsed(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def pending(now: dt.datetime, settle_seconds: float, *, write: bool) -> Mark | None:
    """The moment every create not recorded as done (a client's task, an Uku client)
    counts as announced at, in a home restored from a backup whose mark is still needed;
    None otherwise (an ordinary home, or a mark that has done its job: cleared here when
    ``write``).

    ``write``: a real command that creates (stamps its start as the restored home's first
    one, and clears a mark whose moment is ``settle_seconds`` past); False for a dry run.
    A mark that cannot be read as a time counts as made now (the safe side: one wait).
    Returns the :class:`Mark` (its moment and the snapshot's)."""
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        rows = dict(
            con.execute(
                "SELECT key, value FROM meta WHERE key IN (?, ?)", (SNAPSHOT_KEY, FIRST_RUN_KEY)
            ).fetchall()
        )
    if SNAPSHOT_KEY not in rows:
        return None
    snapshot = _parsed(rows[SNAPSHOT_KEY]) or now
    first = _parsed(rows.get(FIRST_RUN_KEY))
    if first is None:
        first = now
        if write:
            with db.transaction() as con:
                con.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (FIRST_RUN_KEY, _iso(now)),
                )
    moment = max(snapshot, first)
    if now - moment >= dt.timedelta(seconds=max(0.0, settle_seconds)):
        if write:
            with db.transaction() as con:
                con.execute("DELETE FROM meta WHERE key IN (?, ?)", (SNAPSHOT_KEY, FIRST_RUN_KEY))
        return None
    return Mark(moment, snapshot)
