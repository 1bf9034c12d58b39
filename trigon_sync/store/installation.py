"""This home's installation id: which summary tasks in Uku this home wrote.

Two homes may write into one Uku company (two Trigon organisations, two offices), and
their Trigon firm ids may overlap. Each summary task carries the id of the home that
wrote it (monthly/task_identity.py), so neither home updates, counts or adopts the other's.

The id lives in a file of its own, made once and never rewritten, rather than in
state.toml: restoring state.toml from an old backup must not make this home forget which
tasks are its own (it would create them again).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets

from trigon_sync.errors import StateError
from trigon_sync.store import atomic, paths

_ID = re.compile(r"^[0-9a-f]{16}$")


def read() -> str | None:
    """The id, or None when this home has not written a task yet (read-only callers)."""
    path = paths.installation_file()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    if not _ID.match(text):
        raise StateError(
            f"{path} is corrupt (not 16 hex digits)",
            hint="restore it from a backup: it names the summary tasks this home wrote in Uku",
        )
    return text


def ensure() -> str:
    """The id, made on first use; call before writing anything that carries it."""
    found = read()
    if found is not None:
        return found
    path = paths.installation_file()
    made = secrets.token_hex(8)
    paths.ensure_home()
    temp = path.with_name(f"{atomic.temp_prefix(path)}{made}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(made + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)  # never replaces an id another process made first
    finally:
        temp.unlink(missing_ok=True)
    result = read()
    assert result is not None  # noqa: S101 - just linked, or another process did
    return result
