"""Crash-safe writes of small private files (config.toml, state.toml).

A reader must see either the old file or the new one, never half of each: a cron run
killed mid-write must not lose the record of which periods were already billed. So we
write a temp file in the same directory (mode 0600 from the start), fsync it,
``os.replace`` it over the target and fsync the directory so the rename itself survives
a power cut.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from trigon_sync import home_safety, paths

BeforeReplace = Callable[[Path], None]


def temp_prefix(target: Path) -> str:
    """Prefix of the temp files for ``target``; left-overs of a killed write match it."""
    return f".{target.name}."


def write_private(target: Path, text: str, *, before_replace: BeforeReplace | None = None) -> None:
    """Atomically replace ``target`` with ``text`` (UTF-8), leaving it mode 0600.

    ``before_replace`` is called with the finished temp file just before the rename; tests
    use it to kill a write at the worst moment.
    """
    home_safety.guard_write(target)
    directory = target.parent
    if directory == paths.home_dir():
        paths.ensure_home()
    else:
        paths.ensure_dir(directory)
    fd, name = tempfile.mkstemp(dir=directory, prefix=temp_prefix(target), suffix=".tmp")
    temp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), 0o600)
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(temp)
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(target: Path) -> None:
    """Delete temp files a killed writer left behind; call only while holding the lock."""
    for stale in target.parent.glob(f"{temp_prefix(target)}*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
