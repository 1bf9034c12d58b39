"""The records database: what was announced, written and run, in one SQLite file.

``<home>/records.sqlite3`` holds the records that grow with every client and month: the
monthly run's create intents and per-(client, period) outcomes (journal.py), the client
import's create intents (journal.py's ``ClientIntents``), what was written to Uku under
the field names of then and the ``accept`` decisions (ledger.py), and per-(client, period)
progress for owed periods (``client_periods``: its schema is here; the monthly run fills
it when owed periods are built), and ``status``'s flagged clients kept between calls
(status_flags.py). state.toml keeps the small things a person may read.

Why SQLite and these settings:

* **Durability for exactly-once.** A create intent must be on disk *before* the create is
  sent: a run killed after sending it leaves the intent, and the next run then waits for
  Uku's lists to show the task instead of sending a second create. So every commit is
  durable when it returns: ``journal_mode=WAL`` with ``synchronous=FULL`` fsyncs the
  write-ahead log at each commit (WAL's default ``NORMAL`` may lose the last commits on a
  power cut, i.e. an intent whose create was already sent). A full disk fails the commit
  being made (:class:`StateError`) and never what was committed before it.
* **One transaction per change that must hold together** (:meth:`Database.transaction`):
  a ledger write, its mapping and the client's journal row, a migrated file and its mark.
* **Bounded waiting.** WAL lets readers (``report``, ``status``) read while a run writes;
  two writers wait for each other at most :data:`busy_timeout_seconds`, then
  :class:`BusyError`: one line and exit code 6, never a hang in cron.
* **Loud refusal.** A file that is not a database, is corrupt, or has a newer schema
  (``PRAGMA user_version``) is refused with :class:`StateError` and left untouched. It is
  never replaced by an empty one: that would forget announced creates and duplicate tasks.
  Nor is a *missing* one, once the home has had it: state.toml says so
  (``records_database = true``, written by every save once the database exists), and
  every opener refuses a home whose state says so and whose database is gone
  (:func:`_may_be_absent`). A new home, and an older home whose records are still files
  (records_migration.py), have no such key: their first write creates the database.
* **One check at every open, a thorough one before the first write.** Every opener
  (:func:`open_db`, :func:`open_existing`, hence :func:`shared`) checks the schema version
  and reads the schema pages; a damaged page elsewhere shows only when something reads it,
  so before a process's first write transaction :meth:`Database.transaction` runs
  ``PRAGMA quick_check`` once (every page; about 3 s for a 300 MB database, the five-year,
  5,000-client home): a command never adds rows to a corrupt database, whichever pages it
  touches. ``status`` runs the cheap check (it is called every few minutes and must not
  grow with years), ``doctor`` the thorough one (:func:`check`).
* **Forward migrations**: ``MIGRATIONS[n]`` turns schema ``n`` into ``n + 1`` in one
  transaction; version 0 is an empty file.

Read-only commands open the database only when it exists (:func:`open_existing`), so a
home without one stays without one until a command writes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, overload

from trigon_sync.errors import BusyError, StateError
from trigon_sync.store import home_safety, paths, toml_read

SCHEMA_VERSION = 4

busy_timeout_seconds = 15.0
"""How long a write waits for another process's write to finish before :class:`BusyError`
(a monthly run commits one short transaction per client; tests shorten it)."""

SCHEMA_1 = """
CREATE TABLE task_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    period TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL CHECK (kind IN ('intent', 'done', 'gone')),
    firm TEXT NOT NULL,
    client INTEGER,
    task INTEGER,
    action TEXT,
    counts TEXT,
    moved_to INTEGER,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX task_events_by_period ON task_events (period, archived, firm);
CREATE INDEX task_events_by_firm ON task_events (firm, period);

CREATE TABLE client_intents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    firm TEXT NOT NULL,
    code TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX client_intents_by_firm ON client_intents (firm);

CREATE TABLE field_maps (
    id TEXT PRIMARY KEY,
    map TEXT NOT NULL
);
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('w', 'a')),
    period TEXT NOT NULL,
    firm TEXT NOT NULL,
    code TEXT,
    name TEXT,
    uku_client INTEGER,
    task INTEGER,
    action TEXT,
    fields_id TEXT,
    counts TEXT,
    at TEXT NOT NULL
);
CREATE INDEX ledger_by_period ON ledger (period, firm);
CREATE INDEX ledger_by_firm ON ledger (firm, period);

CREATE TABLE run_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    command TEXT NOT NULL,
    result TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX run_history_by_at ON run_history (at);

CREATE TABLE client_periods (
    firm TEXT NOT NULL,
    period TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'owed', 'waived')),
    uku_client INTEGER,
    task INTEGER,
    reason TEXT,
    owed_since TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (firm, period)
) WITHOUT ROWID;
CREATE INDEX client_periods_by_period ON client_periods (period, status);

CREATE TABLE migrated_files (
    name TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    records INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
"""Tables, one per kind of record (see the module docstring):

* ``task_events``: one row per line the period journal had: ``intent`` (a task create is
  about to be sent), ``done`` (the client's task holds its counts), ``gone`` (a run found
  the task deleted or moved in Uku). ``archived`` = 1 once the period is complete (the
  ``.done`` file of old).
* ``client_intents``: client creates sent by ``confirm`` and not yet linked.
* ``field_maps`` + ``ledger``: schema 1's ledger (``w`` writes, ``a`` acceptances in one
  table); schema 2 splits it into ``ledger_writes`` and ``ledger_accepts`` (see
  :data:`SCHEMA_2`).
* ``run_history``: each run record's whole document (JSON), nothing cut at a limit.
* ``client_periods``: per-(client, period) progress: done, owed (with reason and since
  when), waived (with the admin's reason), or (schema 4) dropped when its client was
  unlinked.
* ``migrated_files`` and ``meta``: the migration of the old files (records_migration.py);
  ``meta`` also holds a backup copy's snapshot moment (restore_mark.py).
"""

Migration = Callable[[sqlite3.Connection], None]


SCHEMA_2 = """
CREATE TABLE ledger_writes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    period TEXT NOT NULL,
    firm TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    uku_client INTEGER NOT NULL,
    task INTEGER NOT NULL,
    action TEXT NOT NULL,
    fields_id TEXT NOT NULL REFERENCES field_maps (id),
    counts TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ledger_writes_by_period ON ledger_writes (period, firm);
CREATE INDEX ledger_writes_by_firm ON ledger_writes (firm, period);
CREATE TABLE ledger_accepts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    period TEXT NOT NULL,
    firm TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX ledger_accepts_by_firm ON ledger_accepts (firm, period);
INSERT INTO ledger_writes
    (seq, period, firm, code, name, uku_client, task, action, fields_id, counts, at)
    SELECT seq, period, firm, coalesce(code, ''), coalesce(name, ''), uku_client, task,
        action, fields_id, counts, at
    FROM ledger WHERE kind = 'w' AND uku_client IS NOT NULL AND task IS NOT NULL
        AND action IS NOT NULL AND fields_id IS NOT NULL AND counts IS NOT NULL;
INSERT INTO ledger_accepts (seq, period, firm, at)
    SELECT seq, period, firm, at FROM ledger WHERE kind = 'a';
DROP TABLE ledger
"""
"""Schema 2: the ledger (store/ledger.py) as two tables, each indexed by period and by
client, so that ``report`` reads one period's rows, ``explain`` one client's and
``status`` finds the newest period from the index alone (``max(period)``):

* ``ledger_writes``: one row per write to Uku (a create, an update, a task found holding
  the counts); ``counts`` a JSON list aligned to the mapping ``fields_id`` names in
  ``field_maps``. The newest row (highest ``seq``) of a (firm, period) is what Uku holds.
* ``ledger_accepts``: ``trigon-sync accept`` decisions.

Schema 1's ``ledger`` table (never written by a released version) is copied over and
dropped, row for row (``seq`` kept)."""


_LEDGER_TABLES = ("ledger_writes", "ledger_accepts", "field_maps")

SCHEMA_3: tuple[str, ...] = (
    "CREATE TABLE ledger_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)",
    "INSERT INTO ledger_generation (id, n) VALUES (1, 0)",
    "CREATE TABLE status_flags (key TEXT NOT NULL, generation INTEGER NOT NULL,"
    " flagged TEXT NOT NULL)",
    # a changed generation (a ledger change, or a hand edit of the counter) drops them
    "CREATE TRIGGER ledger_generation_changed AFTER UPDATE ON ledger_generation"
    " BEGIN DELETE FROM status_flags; END",
    *(
        f"CREATE TRIGGER {table}_{event.lower()} AFTER {event} ON {table}"  # noqa: S608 - fixed names
        " BEGIN UPDATE ledger_generation SET n = n + 1; END"
        for table in _LEDGER_TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
)
"""Schema 3: ``status``'s flagged clients kept between calls (store/status_flags.py).

* ``ledger_generation``: one row whose ``n`` goes up with every row inserted, changed or
  deleted in the ledger's tables, by triggers, so in the same transaction as the change,
  whoever makes it (this program, a migration, a hand edit in the ``sqlite3`` shell).
* ``status_flags``: the newest period's flagged clients (the ``status --json`` list as
  JSON) for one ``key`` (the ``[anomalies]`` settings and the code that judges them) and
  the ``generation`` they were computed at; emptied by a trigger whenever the generation
  moves. A row is used only when both its key and its generation match."""


def _create_1(connection: sqlite3.Connection) -> None:
    """Version 0 (an empty file) to 1: every table.

    Statement by statement: ``executescript`` would commit the open transaction first."""
    _run(connection, SCHEMA_1)


def _ledger_2(connection: sqlite3.Connection) -> None:
    """Version 1 to 2: the ledger split into writes and acceptances (:data:`SCHEMA_2`)."""
    _run(connection, SCHEMA_2)


def _run(connection: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def _status_flags_3(connection: sqlite3.Connection) -> None:
    """Version 2 to 3: the ledger's generation and status's kept flags (:data:`SCHEMA_3`).

    Statement by statement and not split on ``;`` (a trigger's body holds one)."""
    for statement in SCHEMA_3:
        connection.execute(statement)


SCHEMA_4: tuple[str, ...] = (
    "CREATE TABLE client_periods_4 (firm TEXT NOT NULL, period TEXT NOT NULL, status TEXT"
    " NOT NULL CHECK (status IN ('done', 'owed', 'waived', 'dropped')), uku_client INTEGER,"
    " task INTEGER, reason TEXT, owed_since TEXT, updated_at TEXT NOT NULL,"
    " PRIMARY KEY (firm, period)) WITHOUT ROWID",
    "INSERT INTO client_periods_4 SELECT firm, period, status, uku_client, task, reason,"
    " owed_since, updated_at FROM client_periods",
    "DROP TABLE client_periods",
    "ALTER TABLE client_periods_4 RENAME TO client_periods",
    "CREATE INDEX client_periods_by_period ON client_periods (period, status)",
)
"""Schema 4: a ``client_periods`` row may be ``dropped``: the pair was owed when its client
was unlinked (store/owed.py), so a later link never retries it. SQLite cannot change a
CHECK in place: the table is copied, row for row, into one that allows it."""


def _dropped_4(connection: sqlite3.Connection) -> None:
    """Version 3 to 4: ``dropped`` client periods (:data:`SCHEMA_4`)."""
    for statement in SCHEMA_4:
        connection.execute(statement)


MIGRATIONS: dict[int, Migration] = {
    0: _create_1,
    1: _ledger_2,
    2: _status_flags_3,
    3: _dropped_4,
}
"""``MIGRATIONS[n]`` turns a version-``n`` database into version ``n + 1``."""


def db_file() -> Path:
    return paths.records_file()


RESTORE_HINT = (
    "trigon-sync will not replace it (it holds the announced creates and what was "
    "written to Uku); restore it from a backup, with its state.toml (taken by "
    "`trigon-sync backup`; docs/operations.md, Backup and restore)"
)


def _refuse(path: Path, why: str) -> StateError:
    return StateError(f"{path} {why}", hint=RESTORE_HINT)


STATE_KEY = "records_database"
"""state.toml's key that says the database exists (written by state.py's first save
once it does)."""


def _may_be_absent(path: Path) -> bool:
    """True when the home may lack its database (a new home, or an older one whose records
    are still files); StateError when state.toml says the database exists, so it is gone:
    an empty one would forget the announced creates, the owed periods and what was
    written to Uku. (state.toml is read here for this one key: state.py uses this module.)"""
    state_file = paths.state_file()
    try:
        doc = toml_read.loads(state_file.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError, toml_read.TOMLDecodeError) as exc:
        raise StateError(
            f"cannot tell whether {path} should exist: {state_file} cannot be read ({exc})",
            hint="restore state.toml and records.sqlite3 together from a backup "
            "(docs/operations.md, Backup and restore)",
        ) from None
    if doc.get(STATE_KEY) is True:
        raise StateError(
            f"{path} is missing, but state.toml says this home has a records database "
            f"({STATE_KEY} = true)",
            hint="restore records.sqlite3 and state.toml together from a `trigon-sync backup` "
            "(docs/operations.md, Backup and restore); trigon-sync will not start an empty one",
        )
    return True


QUICK_CHECK_ROWS = 100
"""At most this many problems are asked of ``PRAGMA quick_check`` (the first is shown)."""


def quick_check(connection: sqlite3.Connection, path: Path) -> None:
    """Every page read and checked (``PRAGMA quick_check``): StateError naming the first
    problem and how many there are; nothing is changed."""
    rows = [str(row[0]) for row in connection.execute(f"PRAGMA quick_check({QUICK_CHECK_ROWS})")]
    if rows == ["ok"]:
        return
    # SQLite may give all problems as one row of lines, under a "*** in database main ***"
    problems = [
        line.strip()
        for row in rows
        for line in row.splitlines()
        if line.strip() and not line.startswith("***")
    ] or ["(no detail)"]
    count = f"{len(problems)}{' or more' if len(problems) >= QUICK_CHECK_ROWS else ''}"
    raise _refuse(
        path,
        f"is corrupt (SQLite's check found {count} problem{'' if count == '1' else 's'}; "
        f"the first: {problems[0]})",
    )


def _translate(path: Path, exc: sqlite3.Error) -> Exception:
    """A typed error for what SQLite reported."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return BusyError(
            f"the records database {path} stayed locked by another trigon-sync process for "
            f"{busy_timeout_seconds:g} s",
            hint="nothing was changed; try again when the other run has finished",
        )
    if "full" in text:
        return StateError(
            f"cannot write {path}: the disk is full; nothing committed before was lost",
            hint="free some space and run again",
        )
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StateError(
            f"cannot write {path} ({text})", hint="check the home's permissions and free space"
        )
    return _refuse(path, f"is corrupt or not a trigon-sync records database ({text})")


class Database:
    """One connection to the records database, shared by a process's threads."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self._lock = threading.RLock()
        self.checked = False
        """Whether :func:`quick_check` passed on this connection (before its first write)."""
        self.waited_out = False
        """Whether the last default wait for the write lock ran out (:meth:`_begin`)."""

    def check(self) -> None:
        """The thorough check, once per connection (StateError when corrupt)."""
        with self._lock:
            if self.checked:
                return
            with self.errors():
                quick_check(self.connection, self.path)
            self.checked = True

    @contextlib.contextmanager
    def transaction(self, *, wait_seconds: float | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: the write lock is taken at once, so
        a busy database fails here, before anything is half done); committed, durably, when
        the block ends, rolled back when it raises. ``wait_seconds``: wait this long for
        another process's write instead of :data:`busy_timeout_seconds` (a write that may
        be left out, such as status's kept flags, need not make a reader wait); such a
        write also skips the thorough check (:meth:`check`), which every other first
        write of a process runs."""
        if wait_seconds is None:
            self.check()
        with self._lock, self.errors():
            self._begin(wait_seconds)
            try:
                yield self.connection
            except BaseException:
                self.connection.rollback()
                raise
            self.connection.commit()

    def _begin(self, wait_seconds: float | None) -> None:
        """``BEGIN IMMEDIATE``, waiting for another process's write at most
        ``wait_seconds`` (default :data:`busy_timeout_seconds`), and not at all once a
        default wait of this connection has run out in vain (until a write gets through):
        the command is then ending with :class:`BusyError`, and its other threads' writes
        and its run record must not each wait again (a run with one client waited twice
        15 s, its message saying 15 s; eight workers would wait eight times)."""
        wait = busy_timeout_seconds if wait_seconds is None else wait_seconds
        if self.waited_out:
            wait = 0.0
        changed = wait != busy_timeout_seconds
        if changed:
            self.connection.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if wait_seconds is None and ("locked" in str(exc) or "busy" in str(exc)):
                self.waited_out = True
            raise
        finally:
            if changed:
                self.connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
        if wait_seconds is None:
            self.waited_out = False

    def probe_write(self) -> None:
        """What the first write of a real run meets, without writing: the thorough check
        (StateError) and the write lock, taken after the same bounded wait (BusyError) and
        let go at once. For ``run-monthly --dry-run``, which exits as the real run would."""
        self.check()
        with self._lock, self.errors():
            self._begin(None)
            self.connection.rollback()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Queries that need no transaction of their own (each sees a consistent snapshot)."""
        with self._lock, self.errors():
            yield self.connection

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """SQLite's errors as the typed errors the CLI shows in one line."""
        try:
            yield
        except sqlite3.Error as exc:
            raise _translate(self.path, exc) from None

    def close(self) -> None:
        with self._lock:
            self.connection.close()


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, timeout=busy_timeout_seconds, isolation_level=None, check_same_thread=False
    )
    connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
    connection.execute("PRAGMA synchronous = FULL")
    return connection


def _prepare(connection: sqlite3.Connection, path: Path, *, writable: bool) -> None:
    """Check the schema version; bring an older database up to date when ``writable``."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path} was written by a newer trigon-sync (records schema {version}; this "
            f"version reads up to {SCHEMA_VERSION})",
            hint="upgrade trigon-sync; the database was left untouched",
        )
    (tables,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    if version == 0 and tables:
        raise _refuse(path, "has tables but no trigon-sync schema version")
    if version == SCHEMA_VERSION or not writable:
        return
    if connection.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
        raise StateError(f"{path}: SQLite could not switch to WAL mode")
    connection.execute("BEGIN IMMEDIATE")
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()  # another process?
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](connection)
            version += 1
            connection.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def open_db() -> Database:
    """The records database, created with the current schema when there is none yet.

    StateError when the file is not a database, is corrupt or from a newer trigon-sync
    (left untouched); BusyError when another process keeps it locked too long."""
    paths.ensure_home()
    path = home_safety.guard_write(db_file())
    for extra in ("-wal", "-shm"):
        home_safety.guard_write(path.with_name(path.name + extra))
    existed = path.exists() or not _may_be_absent(path)
    if existed:  # checked before a migration writes to it
        with contextlib.closing(_opened(path, writable=False)) as reading:
            try:
                quick_check(reading, path)
            except sqlite3.Error as exc:
                raise _translate(path, exc) from None
    connection = _opened(path, writable=True)
    if not existed:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    db = Database(connection, path)
    db.checked = True
    return db


def _opened(path: Path, *, writable: bool) -> sqlite3.Connection:
    """A prepared connection (schema checked, brought up to date when ``writable``), or
    the one typed error for whatever SQLite said; never a half-open connection."""
    try:
        connection = _connect(path)
    except sqlite3.Error as exc:
        raise _translate(path, exc) from None
    try:
        _prepare(connection, path, writable=writable)
    except sqlite3.Error as exc:
        connection.close()
        raise _translate(path, exc) from None
    except BaseException:
        connection.close()
        raise
    return connection


def open_existing() -> Database | None:
    """The records database for reading, or None when the home has none yet (nothing is
    created: read-only commands leave the home as they found it)."""
    path = db_file()
    if not path.is_file() and _may_be_absent(path):
        return None
    # a link is refused before SQLite opens it (and makes its -wal/-shm beside the target)
    for end in ("", "-wal", "-shm"):
        home_safety.guard_write(path.with_name(path.name + end))
    connection = _opened(path, writable=False)
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version < SCHEMA_VERSION:
        connection.close()
        return open_db()  # an older schema is brought up to date before it is read
    return Database(connection, path)


def copy_to(target: Path) -> bool:
    """Copy the records database into the new file ``target`` (made mode 0600) while
    other processes may be writing it; False when the home has none (and may).

    SQLite's online backup in one step: it reads one snapshot (the state after one
    commit, never half of a transaction) while a run goes on committing beside it (WAL
    readers do not block writers), and the copy is checked (:func:`quick_check`) before
    it counts. The source is only read: an older schema is copied as it is.
    StateError when the database is missing though state.toml names it or is corrupt
    (then ``target`` is removed), BusyError when it stays locked."""
    path = db_file()
    if not path.is_file() and _may_be_absent(path):
        return False
    try:
        source = _connect(path)
    except sqlite3.Error as exc:
        raise _translate(path, exc) from None
    done = False
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        copy = sqlite3.connect(target, isolation_level=None)
        try:
            source.backup(copy)
            quick_check(copy, path)
        finally:
            copy.close()
        done = True
    except OSError as exc:
        raise StateError(
            f"cannot write the copy {target}: {exc.strerror}",
            hint="free space or fix permissions where the backup goes; the home is unchanged",
        ) from None
    except sqlite3.Error as exc:
        text = str(exc)
        if any(word in text for word in ("full", "readonly", "read-only", "unable to open")):
            raise StateError(
                f"cannot write the copy {target} ({text})",
                hint="free space or fix permissions where the backup goes; the home is unchanged",
            ) from None
        raise _translate(path, exc) from None
    finally:
        source.close()
        if not done:  # nothing that looks like a usable copy is left behind
            for extra in ("", "-journal", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    target.with_name(target.name + extra).unlink(missing_ok=True)
    return True


_shared: tuple[Path, Database] | None = None
_shared_lock = threading.Lock()


@overload
def shared(*, create: Literal[True]) -> Database: ...
@overload
def shared(*, create: bool = False) -> Database | None: ...
def shared(*, create: bool = False) -> Database | None:
    """This process's one connection to the current home's database (opened once; the
    journal's and ledger's writers and readers all use it). ``create``: make the database
    when there is none (writers); else None for a home without one (readers)."""
    global _shared
    path = db_file()
    with _shared_lock:
        if _shared is not None and _shared[0] == path and path.exists():
            return _shared[1]
        db = open_db() if create else open_existing()
        if db is None:
            return None
        if _shared is not None:
            _shared[1].close()
        _shared = (path, db)
        return db


def forget_shared() -> None:
    """Close the shared connection (a backup restored over it, a test's home removed)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared[1].close()
            _shared = None


def check(*, thorough: bool) -> Path | None:
    """The records database's health for ``status`` (``thorough`` False: the check every
    open makes, cost flat in years) and ``doctor`` (True: every page, :meth:`Database.check`).
    The file checked, or None for a home that has none yet; StateError when it is missing
    though state.toml says it exists, corrupt, or newer; BusyError while locked too long."""
    db = shared()
    if db is None:
        return None
    if thorough:
        db.check()
    return db.path
