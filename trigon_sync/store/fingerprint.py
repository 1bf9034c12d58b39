"""A file's fingerprint: what changes whenever the file is written, replaced or touched.

The derived files beside state.toml and the ledger (summary.py, ledger_flags.py) name
the file they were made from by this, and are used only while it still matches. It is
device, inode, size, and mtime and ctime in nanoseconds: a write in place changes ctime
(which user space cannot set back, unlike mtime), a replace changes the inode.
"""

from __future__ import annotations

from pathlib import Path


def of(path: Path) -> str:
    """The fingerprint of ``path`` now (OSError when it cannot be read, e.g. is missing)."""
    info = path.stat()
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"
