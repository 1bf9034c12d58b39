"""Crash-safe file writes: the one atomic writer, for text and bytes.

A reader must see either the old file or the new one, never half of each: a cron run
killed mid-write must not lose the record of which periods were already billed, and a
failed download must not replace a good register file. So we write a temp file in the
same directory (mode 0600 from the start), fsync it, ``os.replace`` it over the target
and fsync the directory so the rename itself survives a power cut.

:func:`replacing` is that sequence around any writer of bytes (the register download
and its index, the token file, the sandbox's register zip); :func:`write_private` is it
for the home's own text files (config.toml, state.toml).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from trigon_sync.store import home_safety, paths

BeforeReplace = Callable[[Path], None]


def temp_prefix(target: Path) -> str:
    """Prefix of the temp files for ``target``; left-overs of a killed write match it."""
    return f".{target.name}."


@contextlib.contextmanager
def replacing(
    target: Path, *, suffix: str = ".tmp", before_replace: BeforeReplace | None = None
) -> Iterator[BinaryIO]:
    """A temp file (0600) next to ``target`` to write; on a clean exit it replaces ``target``.

    The temp file is fsync'd, ``before_replace`` (if given) sees it finished and may raise
    to keep the old file (a download that is not a register zip), then it is renamed over
    ``target`` and the directory fsync'd. On any error the temp file is removed and
    ``target`` is untouched. The directory must exist.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=temp_prefix(target), suffix=suffix)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(temp)
        temp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    _fsync_directory(target.parent)


def write_private(target: Path, text: str, *, before_replace: BeforeReplace | None = None) -> None:
    """Atomically replace ``target`` in the home with ``text`` (UTF-8), leaving it mode 0600.

    ``before_replace`` is called with the finished temp file just before the rename; tests
    use it to kill a write at the worst moment.
    """
    home_safety.guard_write(target)
    directory = target.parent
    if directory == paths.home_dir():
        paths.ensure_home()
    else:
        paths.ensure_dir(directory)
    with replacing(target, before_replace=before_replace) as handle:
        handle.write(text.encode("utf-8"))


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temps(target: Path, *, suffix: str = ".tmp") -> None:
    """Delete temp files a killed writer left behind; call only while holding the lock."""
    for stale in target.parent.glob(f"{temp_prefix(target)}*{suffix}"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def append_lines(path: Path, text: str) -> None:
    """Append whole lines (``text`` ends with a newline) to an append-only file in the
    home: created 0600, never through a symlink, fsync'd before returning.

    A kill mid-append leaves a torn last line. The next append then starts on a line of
    its own, so the torn bytes stay one unreadable line (every reader skips those) rather
    than swallowing the record written after them. Callers serialise their appends.
    """
    paths.ensure_dir(path.parent)
    torn = False
    with contextlib.suppress(FileNotFoundError), path.open("rb") as existing:
        if existing.seek(0, os.SEEK_END):
            existing.seek(-1, os.SEEK_END)
            torn = existing.read(1) != b"\n"
    data = (("\n" if torn else "") + text).encode("utf-8")
    fd = home_safety.open_for_append(path)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
