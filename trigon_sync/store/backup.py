"""A consistent copy of the home, taken while a monthly run may be writing it.

``trigon-sync backup DIR`` copies what a restore needs, in an order that keeps the copy
consistent without stopping a run:

1. ``config.toml``, ``installation-id`` (the id in every summary task this home wrote:
   without it a restored home would not know its own tasks), ``monitoring.json``.
2. ``state.toml``, read once: under the state lock when it is free (then no command
   starts changing the home until it is read), and without it while a run holds the lock
   (every save replaces the file atomically, so any read is one whole version).
3. Old record files a home not yet upgraded still has (``journal/*.jsonl``,
   ``ledger.jsonl``), before the database: one that a migration moves meanwhile is in the
   database copied next (and its mark there keeps a restore from adding it twice).
4. ``records.sqlite3`` by SQLite's online backup (records_db.copy_to): one snapshot at one
   commit, taken *after* state.toml, so the database is never older than the state. A
   restored home then looks like one whose run stopped after that commit: the state may
   miss a period the database has progress for, and the next run carries on from there,
   never the other way round (a window counted in the state whose intents are missing).
   The copy (never the home) then gets the moment its snapshot was taken
   (store/restore_mark.py): the creates sent after it are not in the copy, and a run in
   the restored home waits until Uku lists them before it decides any client is absent.
5. Only with ``include_secrets``: ``tokens.toml`` (the file token store) and
   ``trigon-token.pending``. Secrets kept in the OS keyring are not in the home and are
   not copied; a restored home then needs ``connect`` and ``connect-uku``.

``probe-facts.json`` (a cache ``doctor --probe`` rebuilds), logs, the
Business Register download and the ``migrated-*`` folders are left out: each is rebuilt
or not needed by a restore. Every copy is mode 0600 in a 0700 directory.

The copy is built in a hidden sibling directory (``.DIR.partial-*``) and renamed to DIR
only when every file is in and the database copy passed SQLite's check: a backup that
fails (a corrupt database, a full disk) leaves nothing that looks like a usable backup.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from trigon_sync import clock
from trigon_sync.errors import BusyError, StateError, UsageError
from trigon_sync.store import paths, pending_token, records_db, records_migration, restore_mark
from trigon_sync.store.lock import exclusive_lock

MONITORING_NAME = "monitoring.json"


@dataclass(frozen=True)
class Backup:
    """What one backup copied (names relative to the home) and how."""

    target: Path
    copied: list[str] = field(default_factory=list)
    state_under_lock: bool = False
    """False: a run held the state lock, so state.toml was read beside it (still whole)."""
    secrets: list[str] = field(default_factory=list)
    """The secret files copied (``include_secrets``); empty when the secrets are in the
    OS keyring or there are none."""


def _prepare_target(target: Path) -> Path:
    """Where the backup goes: a new or empty directory (UsageError otherwise), whose
    parent is made (0700) if needed; the directory itself is made by :func:`_publish`."""
    target = target.expanduser().absolute()
    home = paths.home_dir().absolute()
    if target == home or home in target.parents:
        raise UsageError(
            f"{target} is inside the home {home}", hint="give a directory outside the home"
        )
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file, not a directory", hint="give an empty directory")
    if target.is_dir() and any(target.iterdir()):
        raise UsageError(
            f"{target} is not empty",
            hint="give a new or empty directory: a backup never mixes with or overwrites "
            "another one",
        )
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot make {target.parent}: {exc.strerror}") from None
    return target


def _building(target: Path) -> Path:
    """The hidden sibling directory (0700) the backup is built in."""
    import tempfile

    try:
        return Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as exc:
        raise StateError(
            f"cannot make a directory beside {target}: {exc.strerror}",
            hint="free space or fix permissions where the backup goes; the home is unchanged",
        ) from None


def _publish(building: Path, target: Path) -> None:
    """The finished backup renamed into place (over ``target`` when that is an empty
    directory; one rename, so ``target`` is either absent/empty or the whole backup)."""
    try:
        building.chmod(0o700)
        building.replace(target)
    except OSError as exc:
        raise StateError(
            f"cannot move the finished backup to {target}: {exc.strerror}",
            hint="give a new or empty directory; the home is unchanged",
        ) from None


def _write(target: Path, data: bytes) -> None:
    """A new private file holding ``data``, on disk when this returns."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise StateError(
            f"cannot write {target}: {exc.strerror}",
            hint="free space or fix permissions where the backup goes; the home is unchanged",
        ) from None


def _read(source: Path) -> bytes | None:
    """The file's bytes, or None when it is not there."""
    try:
        return source.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {source}: {exc.strerror}") from None


def _read_state() -> tuple[bytes | None, bool]:
    """state.toml's bytes, and whether they were read under the state lock."""
    with contextlib.suppress(BusyError), exclusive_lock():
        return _read(paths.state_file()), True
    return _read(paths.state_file()), False


def backup(target: Path, *, include_secrets: bool = False) -> Backup:
    """Copy the home into the new or empty directory ``target`` (see the module docstring).

    UsageError for a non-empty target or one inside the home; StateError when a file
    cannot be read or written or the database is corrupt (nothing is then left: the
    partial copy is removed)."""
    import shutil

    home = paths.home_dir()
    if not home.is_dir():
        raise StateError(f"there is no home at {home}", hint="check --home / TRIGON_SYNC_HOME")
    target = _prepare_target(target)
    building = _building(target)
    try:
        taken = _copy(home, building, include_secrets=include_secrets)
        _publish(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return Backup(target, *taken)


def _copy(home: Path, target: Path, *, include_secrets: bool) -> tuple[list[str], bool, list[str]]:
    """Copy the home's files into ``target``: (names copied, state read under the lock,
    secret files copied)."""
    copied: list[str] = []

    def keep(name: str, data: bytes | None) -> None:
        if data is not None:
            _write(target / name, data)
            copied.append(name)

    for source in (paths.config_file(), paths.installation_file(), home / MONITORING_NAME):
        keep(source.name, _read(source))
    state, under_lock = _read_state()
    keep(paths.state_file().name, state)
    for source in records_migration.legacy_files():
        keep(source.relative_to(home).as_posix(), _read(source))
    snapshot_at = clock.now()  # before the snapshot: every intent the copy lacks is later
    if records_db.copy_to(target / paths.RECORDS_NAME):
        restore_mark.mark_copy(target / paths.RECORDS_NAME, snapshot_at)
        copied.append(paths.RECORDS_NAME)
    secrets: list[str] = []
    if include_secrets:
        token_file, pending = paths.token_file(), paths.pending_token_file()
        for source in (token_file, pending) if pending_token.read() else (token_file,):
            data = _read(source)
            if data:
                keep(source.name, data)
                secrets.append(source.name)
    return copied, under_lock, secrets
