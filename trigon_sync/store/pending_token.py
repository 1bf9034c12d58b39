"""A rotated Trigon refresh token that the token store could not keep, kept here instead.

Trigon rotates the refresh token on every renewal and spends the old one. If saving the
new one then fails (a full disk under ``tokens.toml``, a keyring that refuses to write),
the login would be gone: the stored token is spent and the new one only in memory.

So the home keeps one small file of fixed size, reserved *before* a refresh is sent
(:func:`reserve`). When the store cannot keep the new token, :func:`keep` writes it into
that file **in place**: overwriting bytes that are already allocated needs no free block,
so it works on a full disk (ext4, xfs, tmpfs; not guaranteed on copy-on-write file systems
such as btrfs or ZFS). The next renewal, under the same token lock, :func:`recover`\\ s it:
it is the successor of the stored token only while the store still holds the token it
replaced (a fingerprint, never the spent token itself, is kept to tell); a later
``connect`` or ``disconnect`` makes it stale, and it is blanked.

The token is written here only when the store failed, so a keyring user's token reaches
the home's disk only in that case, mode 0600, and is overwritten once the store has it.
Callers hold the Trigon token lock (``trigon/auth.py``) around every function here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from trigon_sync.store import atomic, home_safety, paths

SIZE = 4096
"""Bytes reserved: one file system block on most systems; a refresh token is far smaller."""
HEADER = b"trigon-sync pending refresh token v1\n"
BLANK = HEADER + b"\n" * (SIZE - len(HEADER))


def pending_file() -> Path:
    """Where the reserved file lives (next to ``trigon-token.lock``)."""
    return paths.pending_token_file()


def fingerprint(token: str) -> str:
    """What identifies the token a pending one replaced, without keeping it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Pending:
    """A refresh token Trigon issued that the store did not take, and whom it succeeds."""

    token: str
    replaces: str
    """:func:`fingerprint` of the refresh token that was presented to get it."""


def _encode(pending: Pending) -> bytes:
    if "\n" in pending.token or "\n" in pending.replaces:
        raise ValueError("a refresh token with a line break cannot be kept")
    body = f"{pending.replaces}\n{pending.token}\n"
    check = hashlib.sha256(body.encode("utf-8")).hexdigest()
    data = HEADER + f"{body}{check}\n".encode()
    if len(data) > SIZE:
        raise ValueError("refresh token too long for the reserved file")
    return data + b"\n" * (SIZE - len(data))


def reserve() -> None:
    """Make sure the fixed-size file exists, so :func:`keep` never needs a new block.

    Called before a refresh is sent: an OSError here (disk full) means nothing has been
    spent yet. A file already of the right size is left as it is (it may hold a token).
    """
    path = home_safety.guard_write(pending_file())
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_size == SIZE:
            return
    paths.ensure_home()
    with atomic.replacing(path) as handle:
        handle.write(BLANK)


def _overwrite(data: bytes) -> None:
    """Write ``data`` (exactly SIZE bytes) over the reserved file's bytes, then fsync."""
    path = home_safety.guard_write(pending_file())
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        if os.fstat(fd).st_size != SIZE:
            raise OSError(f"{path} is not the reserved size; it was changed by hand")
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(fd, view[offset:], offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def keep(pending: Pending) -> None:
    """Store ``pending`` in the reserved file in place; OSError or ValueError if that fails."""
    _overwrite(_encode(pending))


def read() -> Pending | None:
    """The token kept by :func:`keep`, or None (no file, blank, torn or changed by hand)."""
    try:
        raw = pending_file().read_bytes()
    except OSError:
        return None
    if not raw.startswith(HEADER):
        return None
    lines = raw[len(HEADER) :].split(b"\n")
    if len(lines) < 3:
        return None
    try:
        replaces, token, check = (line.decode("utf-8") for line in lines[:3])
    except UnicodeDecodeError:
        return None
    body = f"{replaces}\n{token}\n"
    if not token or hashlib.sha256(body.encode("utf-8")).hexdigest() != check:
        return None  # blank, or a write torn by a kill: the store's token applies
    return Pending(token, replaces)


def clear() -> None:
    """Blank the kept token in place (the reservation stays for the next time)."""
    if read() is None:
        return
    try:
        _overwrite(BLANK)
    except OSError:
        # Could not blank it: remove it, or the stale token would sit on disk.
        with contextlib.suppress(OSError):
            pending_file().unlink()


def discard() -> None:
    """Remove the file altogether (``disconnect``): no token of this home stays on disk."""
    clear()
    with contextlib.suppress(FileNotFoundError):
        home_safety.guard_write(pending_file()).unlink()
