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
  a ledger write and its mapping, a migrated file and its mark.
* **Bounded waiting.** WAL lets readers (``report``, ``status``) read while a run writes;
  two writers wait for each other at most :data:`busy_timeout_seconds`, then
  :class:`BusyError`: one line and exit code 6, never a hang in cron.
* **Loud refusal.** A file that is not a database, is corrupt, or has a newer schema
  (``PRAGMA user_version``) is refused with :class:`StateError` and left untouched. It is
  never replaced by an empty one: that would forget announced creates and duplicate tasks.
* **Forward migrations**: ``MIGRATIONS[n]`` turns schema ``n`` into ``n + 1`` in one
  transaction; version 0 is an empty file.

Read-only commands open the database only when it exists (:func:`open_existing`), so a
home without one stays without one until a command writes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, overload

from trigon_sync.errors import BusyError, StateError
from trigon_sync.store import home_safety, paths

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
* ``migrated_files`` and ``meta``: the migration of the old files (records_migration.py).
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


def _refuse(path: Path, why: str) -> StateError:
    return StateError(
        f"{path} {why}",
        hint="trigon-sync will not replace it (it holds the announced creates and what was "
        "written to Uku); restore it from a backup (docs/operations.md, Backup and restore)",
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

    @contextlib.contextmanager
    def transaction(self, *, wait_seconds: float | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: the write lock is taken at once, so
        a busy database fails here, before anything is half done); committed, durably, when
        the block ends, rolled back when it raises. ``wait_seconds``: wait this long for
        another process's write instead of :data:`busy_timeout_seconds` (a write that may
        be left out, such as status's kept flags, need not make a reader wait)."""
        with self._lock, self.errors():
            if wait_seconds is None:
                self.connection.execute("BEGIN IMMEDIATE")
            else:
                self.connection.execute(f"PRAGMA busy_timeout = {int(wait_seconds * 1000)}")
                try:
                    self.connection.execute("BEGIN IMMEDIATE")
                finally:
                    wait = int(busy_timeout_seconds * 1000)
                    self.connection.execute(f"PRAGMA busy_timeout = {wait}")
            try:
                yield self.connection
            except BaseException:
                self.connection.rollback()
                raise
            self.connection.commit()

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
    if version == 0:
        (tables,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if tables:
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
    existed = path.exists()
    connection = _opened(path, writable=True)
    if not existed:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    return Database(connection, path)


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
    if not path.is_file():
        return None
    connection = _opened(path, writable=False)
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version < SCHEMA_VERSION:
        connection.close()
        return open_db()  # an older schema is brought up to date before it is read
    return Database(connection, path)


def copy_to(target: Path) -> bool:
    """Copy the records database into the new file ``target`` while other processes may
    be writing it; False when the home has none.

    SQLite's online backup in one step: it reads one snapshot (the state after one
    commit, never half of a transaction) while a run goes on committing beside it (WAL
    readers do not block writers), and the copy is checked (``quick_check``) before it
    counts. The source is only read: an older schema is copied as it is.
    StateError when the database is corrupt, BusyError when it stays locked."""
    path = db_file()
    if not path.is_file():
        return False
    try:
        source = _connect(path)
    except sqlite3.Error as exc:
        raise _translate(path, exc) from None
    try:
        copy = sqlite3.connect(target, isolation_level=None)
        try:
            source.backup(copy)
            (check,) = copy.execute("PRAGMA quick_check").fetchone()
        finally:
            copy.close()
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
    if check != "ok":
        raise _refuse(path, f"is corrupt (its copy in {target} failed SQLite's check: {check})")
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
