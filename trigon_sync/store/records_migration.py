"""Moving a home's old record files into the records database, once, resumably.

Before records_db.py, the records were files: ``journal/<period>.jsonl`` (an open period)
and ``journal/<period>.jsonl.done`` (a completed one), ``journal/client-creates.jsonl`` and
the billing ledger ``ledger.jsonl`` (mapping lines, write lines, ``accept`` lines; see
ledger.py). The first command that writes (``state.locked_state``, under the state lock)
moves them, and so does the first that reads them (:func:`ensure_migrated`):

* **Lossless**: every readable line becomes one row, in file order, with its window and
  time as written; a torn or broken line, which no reader ever used, is counted
  (``migrated_files.skipped``), and the file itself is kept.
* **Idempotent and resumable**: each file is one transaction together with its row in
  ``migrated_files``; a kill mid-file rolls that file back, a kill after its commit leaves
  the mark, and the next command carries on with the files not yet marked. A marked file
  is never read twice; one that changed size since it was marked is refused (StateError).
* **Kept**: once every file is in, the files are moved (same relative path) into
  ``<home>/migrated-YYYY-MM-DD/``, the date of the migration's first step; the
  ``journal/`` folder they leave is removed when nothing else is in it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trigon_sync import clock
from trigon_sync.errors import StateError
from trigon_sync.store import paths, records_db

FOLDER_KEY = "migration_folder"
_PERIOD_FILE = re.compile(r"^(\d{4}-\d{2})\.jsonl(\.done)?$")
CLIENT_CREATES = "client-creates.jsonl"
LEDGER = "ledger.jsonl"

before_commit_hook: Any = None
"""Test-only fault injection: called with a file's relative name inside its transaction."""


@dataclass(frozen=True)
class Migrated:
    """What one migration moved: files, rows, broken lines left out, and where the files
    are kept now."""

    files: int
    records: int
    skipped: int
    folder: Path | None


def legacy_files() -> list[Path]:
    """The old record files still in the home (cheap: one directory listing)."""
    ledger = paths.ledger_file()
    found = [ledger] if ledger.is_file() else []
    try:
        listed = sorted(paths.journal_dir().iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return found
    return [*found, *(p for p in listed if _PERIOD_FILE.match(p.name) or p.name == CLIENT_CREATES)]


def _lines(path: Path) -> Iterator[dict[str, Any] | None]:
    """Each complete line as a JSON object, None for a broken line (a kill's torn one)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                yield None
                continue
            yield doc if isinstance(doc, dict) else None


def _task_event(period: str, archived: bool, doc: dict[str, Any]) -> tuple[Any, ...]:
    """One journal line as a ``task_events`` row (KeyError/ValueError/TypeError if broken)."""
    start, end = doc["window"]
    common = (period, int(archived), str(doc["firm"]), str(start), str(end))
    if doc.get("intent") == "create":
        return (*common, "intent", int(doc["client"]), None, None, None, None, str(doc["at"]))
    if "gone" in doc:
        moved = doc.get("moved_to")
        return (
            *common,
            "gone",
            int(doc["client"]),
            int(doc["gone"]),
            None,
            None,
            None if moved is None else int(moved),
            str(doc.get("at") or ""),
        )
    counts = {str(k): int(v) for k, v in (doc.get("counts") or {}).items()}
    return (
        *common,
        "done",
        int(doc["client"]),
        int(doc["task"]),
        str(doc["action"]),
        json.dumps(counts, ensure_ascii=False),
        None,
        str(doc.get("at") or ""),
    )


def _raw_lines(path: Path) -> Iterator[Any]:
    """Each complete line as a JSON value, None for a broken one (a kill's torn last line)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                yield None


def _import_ledger(con: sqlite3.Connection, path: Path) -> tuple[int, int]:
    """``ledger.jsonl``'s lines as rows, in file order: mappings into ``field_maps``, writes
    into ``ledger_writes``, acceptances into ``ledger_accepts``. A write line before its
    mapping's line, or whose counts do not fit it, was never read: it is counted as broken
    (as the reader did, which skipped it)."""
    rows = skipped = 0
    maps: dict[str, int] = {}
    for value in _raw_lines(path):
        try:
            if isinstance(value, dict):
                doc = value["fields"]
                pairs = [[str(k), str(n)] for k, n in doc["map"]]
                fid = str(doc["id"])
                con.execute(
                    "INSERT OR IGNORE INTO field_maps (id, map) VALUES (?, ?)",
                    (fid, json.dumps(pairs, ensure_ascii=False)),
                )
                maps[fid] = len(pairs)
            elif isinstance(value, list) and value and value[0] == "w":
                _, period, firm, code, name, client, task, action, fid, counts, at = value
                if maps.get(str(fid)) != len(counts) or not all(
                    isinstance(n, int) and not isinstance(n, bool) for n in counts
                ):
                    raise ValueError("write without its mapping")
                con.execute(
                    "INSERT INTO ledger_writes (period, firm, code, name, uku_client, task,"
                    " action, fields_id, counts, at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        str(period), str(firm), str(code), str(name), int(client), int(task),
                        str(action), str(fid), json.dumps(counts), str(at),
                    ),
                )  # fmt: skip
            elif isinstance(value, list) and value and value[0] == "a":
                _, period, firm, at = value
                con.execute(
                    "INSERT INTO ledger_accepts (period, firm, at) VALUES (?, ?, ?)",
                    (str(period), str(firm), str(at)),
                )
            else:
                raise ValueError("not a ledger line")
        except (KeyError, IndexError, TypeError, ValueError):
            skipped += 1
            continue
        rows += 1
    return rows, skipped


def _import(con: sqlite3.Connection, path: Path) -> tuple[int, int]:
    """Insert one file's lines; (rows, broken lines)."""
    rows = skipped = 0
    if path.name == LEDGER and path.parent == paths.home_dir():
        return _import_ledger(con, path)
    if path.name == CLIENT_CREATES:
        for doc in _lines(path):
            try:
                line = doc or {}
                values = (str(line["firm"]), str(line.get("code") or ""), str(line["at"]))
            except (KeyError, TypeError):
                skipped += 1
                continue
            con.execute("INSERT INTO client_intents (firm, code, at) VALUES (?, ?, ?)", values)
            rows += 1
        return rows, skipped
    match = _PERIOD_FILE.match(path.name)
    if match is None:  # legacy_files() lists only the names it matches
        return rows, skipped
    period, archived = match.group(1), match.group(2) is not None
    for doc in _lines(path):
        try:
            row = _task_event(period, archived, doc or {})
        except (KeyError, TypeError, ValueError):
            skipped += 1
            continue
        con.execute(
            "INSERT INTO task_events (period, archived, firm, window_start, window_end, kind,"
            " client, task, action, counts, moved_to, at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            row,
        )
        rows += 1
    return rows, skipped


def folder(db: records_db.Database) -> Path:
    """Where the files go: named by the day the migration started, kept across a resume."""
    with db.transaction() as con:
        found = con.execute("SELECT value FROM meta WHERE key = ?", (FOLDER_KEY,)).fetchone()
        if found is None:
            name = f"migrated-{clock.now().date().isoformat()}"
            con.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (FOLDER_KEY, name))
        else:
            (name,) = found
    return paths.home_dir() / name


def migrate() -> Migrated | None:
    """Move every old record file into the database (the caller holds the state lock);
    None when there was nothing to move."""
    files = legacy_files()
    if not files:
        return None
    db = records_db.shared(create=True)
    home = paths.home_dir()
    kept = folder(db)
    records = skipped = 0
    for path in files:
        name = path.relative_to(home).as_posix()
        size = path.stat().st_size
        with db.transaction() as con:
            done = con.execute("SELECT size FROM migrated_files WHERE name = ?", (name,)).fetchone()
            if done is not None:
                if done[0] != size:
                    raise StateError(
                        f"{path} changed since it was moved into {db.path} "
                        f"({done[0]} bytes then, {size} now)",
                        hint=f"compare it with the copy in {kept} and remove the one "
                        "that is not needed; nothing was changed",
                    )
                continue
            rows, broken = _import(con, path)
            con.execute(
                "INSERT INTO migrated_files (name, size, records, skipped, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, size, rows, broken, clock.now().isoformat(timespec="seconds")),
            )
            if before_commit_hook is not None:
                before_commit_hook(name)
            records, skipped = records + rows, skipped + broken
    for path in files:
        target = kept / path.relative_to(home)
        paths.ensure_dir(target.parent)
        path.replace(target)
    with contextlib.suppress(OSError):  # nothing writes there any more; kept if not empty
        paths.journal_dir().rmdir()
    return Migrated(len(files), records, skipped, kept)


def migrated_on() -> dt.date | None:
    """The day this home's files were moved into the database (None: never)."""
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        found = con.execute("SELECT value FROM meta WHERE key = ?", (FOLDER_KEY,)).fetchone()
    return None if found is None else dt.date.fromisoformat(found[0].removeprefix("migrated-"))


def ensure_migrated() -> None:
    """For a command that reads records: move old files first, under the state lock
    (BusyError while a run holds it: that run is moving them). Costs one directory
    listing once they are moved."""
    if not legacy_files():
        return
    from trigon_sync.store.lock import exclusive_lock

    with exclusive_lock():
        migrate()
