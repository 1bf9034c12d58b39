"""Rules for writing into a home directory other people may share.

A cron user's home can be reached by others: an admin running a command as root leaves
root-owned files that lock cron out every night after; a symlink planted where
``state.toml`` or the log should be makes our next write land somewhere else. So every
writer of the home (atomic state/config writes, the journal, the run log, the token
file, the lock files) asks :func:`guard_write` first, which refuses:

* a process whose user does not own the home (before anything is written);
* a target, or a directory between the home and it, that is a symbolic link.

Both refusals are :class:`~trigon_sync.errors.StateError` (exit 8) naming the path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from trigon_sync.errors import StateError
from trigon_sync.store import paths


def _getuid() -> int | None:
    getuid = getattr(os, "getuid", None)  # not on Windows: no owner rule there
    return getuid() if getuid is not None else None


current_uid: Callable[[], int | None] = _getuid
"""Who runs this process; tests replace it to play another user (no root needed)."""


def check_owner(home: Path | None = None) -> None:
    """Refuse when the home exists and belongs to another user than this process's."""
    home = home or paths.home_dir()
    uid = current_uid()
    if uid is None:
        return
    try:
        owner = home.stat().st_uid
    except FileNotFoundError:
        return
    if owner != uid:
        raise StateError(
            f"{home} belongs to user id {owner}, but this command runs as user id {uid}; "
            "nothing was written",
            hint="run trigon-sync as the user who owns the home (the cron user), e.g. "
            "`sudo -u <that user> trigon-sync ...`, so no file there changes owner",
        )


def guard_write(target: Path) -> Path:
    """Check ``target`` may be written (owner, no symlinks below the home); return it."""
    home = paths.home_dir()
    check_owner(home)
    try:
        relative = target.absolute().relative_to(home.absolute())
    except ValueError:
        relative = None
    if relative is None:
        candidates = [target]
    else:
        candidates = [home.joinpath(*relative.parts[: i + 1]) for i in range(len(relative.parts))]
    for path in candidates:
        if path.is_symlink():
            raise StateError(
                f"{path} is a symbolic link; trigon-sync does not write through links "
                "(another user could point it anywhere), so nothing was written",
                hint=f"remove the link and let trigon-sync create a real file: rm {path}",
            )
    return target


def check_home() -> None:
    """Before a run writes anything: the owner, and every file it may write, at once.

    Refusing a symlinked journal only when its first line is due would leave a task in
    Uku whose journal line could not be written. (config.toml is not written by a run;
    commands that do write it are refused by :func:`guard_write` as it happens.)
    """
    check_owner()
    targets = [
        paths.state_file(),
        paths.lock_file(),
        paths.token_file(),  # the run may rotate the Trigon refresh token
        paths.pending_token_file(),  # ... and keep it there when the store cannot
        paths.logs_dir(),
        paths.journal_dir(),
        paths.ledger_file(),
        paths.records_file(),
        *(paths.records_file().with_name(paths.RECORDS_NAME + end) for end in ("-wal", "-shm")),
    ]
    journal = paths.journal_dir()
    if journal.is_dir() and not journal.is_symlink():
        targets.extend(journal.iterdir())
    logs = paths.logs_dir()
    if logs.is_dir() and not logs.is_symlink():
        targets.extend(logs.iterdir())
    for target in targets:
        guard_write(target)


def open_for_append(path: Path) -> int:
    """An O_APPEND descriptor for ``path`` (0600, created if needed), never via a symlink."""
    guard_write(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    return os.open(path, flags, 0o600)


def group_or_world_writable(path: Path) -> bool:
    """Whether others may create or replace files in ``path``."""
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o022)
    except FileNotFoundError:
        return False
