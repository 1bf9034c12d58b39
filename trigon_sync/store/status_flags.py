"""``status``'s flagged clients, kept in the records database between calls.

Monitoring calls ``status --json`` every few minutes; judging the newest period's counts
reads that period's ledger rows and the 13 periods before it (60,000-70,000 rows at 5,000
clients, about 1 s of CPU), while they change once a month. So the answer is kept
(records_db.SCHEMA_3, table ``status_flags``) and used only while everything it was
computed from is unchanged, which is checked, not assumed:

* **the ledger**: every row inserted, changed or deleted in ``ledger_writes``,
  ``ledger_accepts`` or ``field_maps`` moves ``ledger_generation`` by a trigger, in the
  same transaction as the change and whoever makes it (a run, a migration, ``accept``, a
  hand edit in the ``sqlite3`` shell), and a moved generation empties ``status_flags``;
* **the settings and the code**: the row's ``key`` is the ``[anomalies]`` settings that
  judge the counts and a digest of the package's modules (path, size, modification
  time), so a settings edit, an upgrade or an edit of the code is a different key;
* **the moment**: the flags are kept only when the generation read before computing them
  is still the database's generation when they are stored (one conditional ``INSERT``):
  a write that lands while they are computed leaves nothing kept.

A row is used only when its key and its generation both match: anything else means
computing the flags as before (correct, slower) and keeping the new answer. Keeping it is
a courtesy: when the database is busy, read-only or not ours to write, nothing is kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trigon_sync.errors import TrigonSyncError
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.store import home_safety, records_db

Flagged = tuple[dict[str, Any], ...]
"""The flagged clients as ``status --json`` lists them (billing/report.py Row.summary_json)."""

WAIT_SECONDS = 0.2
"""How long keeping the flags waits for a run's write: status never waits on a courtesy."""


def _code_digest(root: Path | None = None) -> str | None:
    """A digest of every module of the installed package (path, size and modification
    time: an upgrade or an edit changes it), or None when they cannot be listed (then the
    flags are never kept). All of them rather than a hand-kept list of the modules that
    judge: such a list goes stale the day a new module takes part (it did once)."""
    import hashlib  # only status needs it: the nightly no-op does not load it

    root = root or Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    try:
        for path in sorted(root.rglob("*.py")):
            stat = path.stat()
            name = path.relative_to(root).as_posix()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    except OSError:
        return None
    return digest.hexdigest()


def key(settings: AnomalySettings) -> str | None:
    """What the flags depend on besides the ledger: the settings that judge the counts
    (``hold`` only decides what a run does with a flag) and the code."""
    code = _code_digest()
    if code is None:
        return None
    return json.dumps(
        {
            "spike_factor": settings.spike_factor,
            "history_periods": settings.history_periods,
            "code": code,
        },
        sort_keys=True,
    )


def generation() -> int | None:
    """The ledger's generation now (None: no records database)."""
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        (found,) = con.execute("SELECT n FROM ledger_generation").fetchone()
    return int(found)


def recall(key: str | None) -> Flagged | None:
    """The kept flags for ``key`` at the ledger's current generation, or None (none kept,
    another key, or the ledger changed since)."""
    if key is None:
        return None
    db = records_db.shared()
    if db is None:
        return None
    with db.read() as con:
        row = con.execute(
            "SELECT f.flagged FROM status_flags AS f JOIN ledger_generation AS g"
            " ON f.generation = g.n WHERE f.key = ?",
            (key,),
        ).fetchone()
    if row is None:
        return None
    found = json.loads(row[0])
    return tuple(found)


def keep(key: str | None, computed_at: int | None, flagged: Flagged) -> bool:
    """Keep ``flagged``, computed from the ledger at generation ``computed_at``, unless
    the ledger has changed since; whether it was kept. Never raises for a database that
    is busy, read-only or belongs to another user: the flags are then computed again."""
    if key is None or computed_at is None:
        return False
    db = records_db.shared()
    if db is None:
        return False
    try:
        for extra in ("", "-wal", "-shm"):
            home_safety.guard_write(db.path.with_name(db.path.name + extra))
        text = json.dumps(list(flagged), ensure_ascii=False, separators=(",", ":"))
        with db.transaction(wait_seconds=WAIT_SECONDS) as con:
            con.execute("DELETE FROM status_flags")
            kept = con.execute(
                "INSERT INTO status_flags (key, generation, flagged)"
                " SELECT ?, n, ? FROM ledger_generation WHERE n = ?",
                (key, text, computed_at),
            ).rowcount
    except TrigonSyncError:
        return False
    return kept == 1
