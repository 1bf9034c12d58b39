"""Machine-written state: what has been counted, which clients are linked, which ignored.

``state.toml`` is the memory that keeps invoices right: ``last_period_end`` is the last
day already counted and ``last_period`` the last task label used, so no day is counted
twice and no month gets two tasks. Hence the care: a ``schema_version`` with a migration
path, atomic 0600 writes, an exclusive lock for writers, and a refusal (never an
overwrite) when the file is corrupt or comes from a newer trigon-sync.

A link's ``uku_company`` was added to schema 1 without a new version: it is optional
(absent: the link predates it, see ``ClientLink.uku_company``), an older trigon-sync
reads such a file as before, and if it saves the file it drops the key, after which
the link is read as made before the key existed. The nightly check of each link
(clients/link_check.py) compares the Uku client's registration code as well, so a dropped
key never lets a task onto another company's client.

TOML has no null: absent values are omitted keys. The period journal and the staged
import are typed records (``records/tables.py``): read once here, at load, and written
back from them. The run history is not here: ``State.record`` adds to the records
database (run_history.py) when the session saves, and ``State.history`` reads it there;
an older home's ``[[history]]`` moves there on the first ``locked_state``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trigon_sync import redact
from trigon_sync.dates import toml_date
from trigon_sync.errors import StateError
from trigon_sync.records.tables import PERIOD, Periods, RunRecord, StagedImport
from trigon_sync.store import paths, state_view, toml_read
from trigon_sync.store.state_view import StateSummary
from trigon_sync.store.toml_values import without_none

if TYPE_CHECKING:
    import sqlite3

    from trigon_sync.store import atomic

# The writer's modules (tomli_w, the atomic writer, the lock: filelock) are imported when
# a state is written: the read-only calls cron and monitoring make never need them.

SCHEMA_VERSION = 1

Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}
"""``MIGRATIONS[n]`` turns a version-``n`` document into version ``n + 1``."""

before_replace_hook: atomic.BeforeReplace | None = None
"""Test-only fault injection: called with the temp file just before it replaces state.toml."""

_KNOWN_KEYS = {
    "schema_version",
    "last_period_end",
    "last_period",
    "links",
    "staged_import",
    "journal",
    "history",
    "ignored",
    "records_database",
}


@dataclass
class ClientLink:
    """A Trigon firm imported as (or matched to) an Uku client."""

    trigon_id: str
    registration_code: str
    name: str
    uku_client_id: int
    linked_at: dt.date
    flags: list[str] = field(default_factory=list)
    uku_company: str | None = None
    """The Uku company (X-Uku-Company) the link was made in: its ``uku_client_id`` means
    that company's client and no other. None for a link made before trigon-sync recorded
    it; such a link is taken to be in the company configured when this version first
    changes the state (``client_links.stamp_company``: the first ``run-monthly``,
    ``confirm`` or ``connect-uku``), and is written with it from then on."""


@dataclass
class State:
    """The whole state file in memory; mutate it inside :func:`locked_state` and save."""

    last_period_end: dt.date | None = None
    last_period: str | None = None
    links: dict[str, ClientLink] = field(default_factory=dict)
    staged_import: StagedImport | None = None
    """The plan ``import-clients`` staged for ``confirm``."""
    journal: Periods = field(default_factory=Periods)
    """The open period and the completed ones (edited through records/periods.py)."""
    legacy_history: list[RunRecord] = field(default_factory=list)
    """state.toml's ``[[history]]`` of a home not yet migrated (run_history.py): read by
    read-only commands until the first writing command moves it into the database."""
    new_history: list[RunRecord] = field(default_factory=list)
    """Records made in this session, written to the database by ``StateSession.save``."""
    new_effects: list[Callable[[sqlite3.Connection], None]] = field(default_factory=list)
    """Changes to the records database that belong to this session's new records (an
    unlink ends the pairs its client owed): made in the same transaction as them."""
    ignored: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Trigon firms the admin chose not to import (``trigon-sync ignore``), by firm id:
    ``name``, ``registration_code``, ``ignored_at``. Not announced in run-monthly's mail."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Top-level keys this version does not know; kept so nothing is lost on save."""
    records_database: bool = False
    """Whether this home's records database (records.sqlite3) exists: set by the first save
    after it was made, so that a missing one is refused (records_db.py) and never
    recreated empty. False for a new home and an older one whose records are files."""
    schema_version: int = SCHEMA_VERSION

    def record(self, at: dt.datetime, command: str, result: str, **details: Any) -> RunRecord:
        """Append a run record (``at`` as an ISO string) and return it."""
        entry = RunRecord(
            at=at.isoformat(timespec="seconds"),
            command=command,
            result=result,
            # Details quote servers (error messages, failure reasons): never store a secret.
            details={
                key: redact.scrub_data(value) for key, value in details.items() if value is not None
            },
        )
        self.new_history.append(entry)
        return entry

    @property
    def history(self) -> list[RunRecord]:
        """Every run record, oldest first: the database's (run_history.py), after
        state.toml's old ones while they are not moved in, and this session's unsaved
        ones. Read afresh at each use: nothing is cut at a limit."""
        from trigon_sync.store import run_history

        legacy = [] if not self.legacy_history or run_history.migrated() else self.legacy_history
        return [*legacy, *run_history.read_all(), *self.new_history]

    def summary(self) -> StateSummary:
        """The few facts the nightly no-op and ``status`` read (store/state_view.py)."""
        return state_view.of_state(self)

    def complete_window(self, window_end: dt.date, period: str) -> None:
        """Mark a window counted: the next one starts the day after ``window_end``."""
        self.last_period_end = window_end
        self.last_period = period

    def to_document(self) -> dict[str, Any]:
        """The TOML document (no ``None`` anywhere)."""
        doc: dict[str, Any] = {**self.extra, "schema_version": self.schema_version}
        if self.last_period_end is not None:
            doc["last_period_end"] = self.last_period_end
        if self.last_period is not None:
            doc["last_period"] = self.last_period
        if self.links:
            doc["links"] = {key: without_none(vars(link)) for key, link in self.links.items()}
        if self.staged_import is not None:
            doc["staged_import"] = without_none(self.staged_import.to_document())
        journal = self.journal.to_document()
        if journal:
            doc["journal"] = without_none(journal)
        if self.legacy_history:  # only until the first save migrates it (locked_state)
            doc["history"] = [without_none(e.to_document()) for e in self.legacy_history]
        if self.ignored:
            doc["ignored"] = without_none(self.ignored)
        if self.records_database:
            doc["records_database"] = True
        return doc

    def to_json(self) -> dict[str, Any]:
        """Everything, with explicit nulls, for ``state show --json``."""
        return {
            "schema_version": self.schema_version,
            "last_period_end": self.last_period_end,
            "last_period": self.last_period,
            "links": {key: vars(link) for key, link in self.links.items()},
            "staged_import": None
            if self.staged_import is None
            else self.staged_import.to_document(),
            "journal": self.journal.to_document(),
            "history": [entry.to_document() for entry in self.history],
            "ignored": self.ignored,
        }


class StateSession:
    """The state loaded under the lock; ``save()`` may be called any number of times."""

    def __init__(self, state: State, path: Path) -> None:
        self.state = state
        self.path = path

    def save(self) -> None:
        """Write the current state atomically (mode 0600), then the session's new run
        records into the database.

        The records go after the state: a kill between the two loses a record of a change
        that was made, never records a change that was not. The database itself is made
        before the first state.toml that says it exists (``records_database``).
        """
        import tomli_w

        from trigon_sync.store import atomic, records_db, run_history

        if not self.state.records_database:
            records_db.shared(create=True)
            self.state.records_database = True
        doc = self.state.to_document()
        atomic.write_private(self.path, tomli_w.dumps(doc), before_replace=before_replace_hook)
        run_history.append(self.state.new_history, self.state.new_effects)
        self.state.new_history.clear()
        self.state.new_effects.clear()


def load_state() -> State:
    """Read the state without locking (for read-only commands); empty if there is none."""
    return _read(paths.state_file())


def load_view() -> tuple[StateSummary, State]:
    """The facts the nightly no-op and ``status`` read (store/state_view.py), and the
    state they come from (StateError when state.toml cannot be read)."""
    state = load_state()
    return state.summary(), state


OLD_CACHES = ("state.summary.toml", "ledger.flags.json")
"""Files older versions kept beside state.toml and the ledger only to save reading them
(derived, never the truth); removed by the first command that writes."""


@contextlib.contextmanager
def locked_state() -> Iterator[StateSession]:
    """Take the exclusive lock, load the state fresh, and yield a session to change it."""
    from trigon_sync.store import atomic, records_db, records_migration
    from trigon_sync.store.lock import exclusive_lock

    with exclusive_lock():
        path = paths.state_file()
        atomic.remove_stale_temps(path)
        for name in OLD_CACHES:
            with contextlib.suppress(OSError):
                (path.parent / name).unlink(missing_ok=True)
        state = _read(path)  # a corrupt state is refused before anything else is changed
        if state.records_database or records_db.db_file().is_file():
            # checked before anything changes: a lost one is refused (never begun again),
            # a damaged one too, whichever of its pages this command would touch
            records_db.shared(create=True).check()
        records_migration.migrate()  # old record files into the database, once
        session = StateSession(state, path)
        if state.legacy_history:
            _migrate_history(session)
        yield session


def _migrate_history(session: StateSession) -> None:
    """state.toml's ``[[history]]`` into the database, once (run_history.py): the old
    state.toml is kept in the migrated folder first, then the records go in with their
    mark, then state.toml is saved without them."""
    import shutil

    from trigon_sync import clock
    from trigon_sync.store import records_db, records_migration, run_history

    folder = records_migration.folder(records_db.shared(create=True))
    kept = folder / session.path.name
    if not kept.exists():
        paths.ensure_dir(folder)
        shutil.copy2(session.path, kept)
    run_history.adopt(session.state.legacy_history, clock.now().isoformat(timespec="seconds"))
    session.state.legacy_history = []
    session.save()


def _refuse(path: Path, why: str) -> StateError:
    return StateError(
        f"{path} {why}",
        hint="trigon-sync will not overwrite it; restore a good copy or move it aside "
        "and set the last period end again with `trigon-sync state set-last-period-end`",
    )


def _read(path: Path) -> State:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return State()
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    try:
        doc = toml_read.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, toml_read.TOMLDecodeError) as exc:
        raise _refuse(path, f"is corrupt ({exc})") from None
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _refuse(path, "is corrupt (no valid schema_version)")
    if version > SCHEMA_VERSION:
        raise StateError(
            f"{path} was written by a newer trigon-sync (state schema {version}; "
            f"this version reads up to {SCHEMA_VERSION})",
            hint="upgrade trigon-sync; the file was left untouched",
        )
    while version < SCHEMA_VERSION:
        doc = MIGRATIONS[version](doc)
        version += 1
        doc["schema_version"] = version
    try:
        return _from_document(doc)
    except (TypeError, ValueError, KeyError) as exc:
        raise _refuse(path, f"is corrupt ({exc})") from None


def _expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise TypeError(f"{what} has the wrong type")
    return value


def _date_or_none(value: Any, what: str) -> dt.date | None:
    return None if value is None else toml_date(value, what)


def _from_document(doc: dict[str, Any]) -> State:
    last_period = doc.get("last_period")
    if last_period is not None and not PERIOD.match(_expect(last_period, str, "last_period")):
        raise ValueError(f"last_period {last_period!r} is not YYYY-MM")
    links: dict[str, ClientLink] = {}
    for key, item in _expect(doc.get("links", {}), dict, "links").items():
        _expect(item, dict, f"links.{key}")
        links[key] = ClientLink(
            trigon_id=_expect(item["trigon_id"], str, f"links.{key}.trigon_id"),
            registration_code=_expect(
                item.get("registration_code", ""), str, f"links.{key}.registration_code"
            ),
            name=_expect(item.get("name", ""), str, f"links.{key}.name"),
            uku_client_id=_expect(item["uku_client_id"], int, f"links.{key}.uku_client_id"),
            linked_at=toml_date(item["linked_at"], f"links.{key}.linked_at"),
            flags=list(_expect(item.get("flags", []), list, f"links.{key}.flags")),
            uku_company=_expect(
                item.get("uku_company"), (str, type(None)), f"links.{key}.uku_company"
            ),
        )
    legacy_history = [
        RunRecord.from_document(_expect(entry, dict, "history entry"))
        for entry in _expect(doc.get("history", []), list, "history")
    ]
    staged = doc.get("staged_import")
    ignored = _expect(doc.get("ignored", {}), dict, "ignored")
    for key, item in ignored.items():
        _expect(item, dict, f"ignored.{key}")
    return State(
        schema_version=doc["schema_version"],
        last_period_end=_date_or_none(doc.get("last_period_end"), "last_period_end"),
        last_period=last_period,
        links=links,
        staged_import=None
        if staged is None
        else StagedImport.from_document(_expect(staged, dict, "staged_import")),
        journal=Periods.from_document(_expect(doc.get("journal", {}), dict, "journal")),
        legacy_history=legacy_history,
        ignored=ignored,
        records_database=_expect(doc.get("records_database", False), bool, "records_database"),
        extra={k: v for k, v in doc.items() if k not in _KNOWN_KEYS},
    )
