"""The exclusive lock every state-changing command holds.

Two overlapping runs (a slow cron job and an admin at the terminal) could both create the
same month's tasks or both advance the window, so the second one must stop at once
rather than wait: cron would otherwise pile up processes. The holder writes its pid into
the lock file so the refusal can say who is in the way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import filelock

from trigon_sync.errors import BusyError
from trigon_sync.store import home_safety, paths


def _holder_pid(lock_path: Path) -> int | None:
    try:
        text = lock_path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isascii() and text.isdigit() else None


def _busy(lock_path: Path) -> BusyError:
    pid = _holder_pid(lock_path)
    who = f" (pid {pid})" if pid else ""
    return BusyError(
        f"another trigon-sync run is in progress{who}",
        hint="nothing was changed; try again when it has finished",
    )


def probe() -> None:
    """:class:`BusyError` when another process holds the lock, as :func:`exclusive_lock`
    would raise; nothing is written (a home without the lock file has no holder). For a
    dry run, which exits as the real run would."""
    lock_path = paths.lock_file()
    if not lock_path.is_file():
        return
    lock = filelock.FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise _busy(lock_path) from None
    lock.release()


@contextlib.contextmanager
def exclusive_lock() -> Iterator[None]:
    """Hold the state lock for the ``with`` block; :class:`BusyError` if someone else has it."""
    paths.ensure_home()
    lock_path = home_safety.guard_write(paths.lock_file())
    lock = filelock.FileLock(lock_path, timeout=0, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise _busy(lock_path) from None
    try:
        # flock belongs to filelock's descriptor; writing through another one is safe.
        lock_path.write_text(f"{os.getpid()}\n", encoding="ascii")
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.write_text("", encoding="ascii")
        lock.release()
