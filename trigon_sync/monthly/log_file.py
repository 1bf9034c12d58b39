"""``<home>/logs/trigon-sync.log``: one line per run-monthly invocation, never a secret.

What cron did, night by night, for support staff: the nothing-due nights too, so a
missing line means cron did not start the tool at all.
"""

from __future__ import annotations

import contextlib
import os

from trigon_sync import clock, redact
from trigon_sync.errors import TrigonSyncError
from trigon_sync.store import home_safety, paths

LOG_NAME = "trigon-sync.log"


def append(line: str, *, strict: bool = True) -> None:
    """Append ``line`` (one line, scrubbed, stamped with the Tallinn time).

    ``strict=False`` on the way out of a failure: a log that cannot be written (foreign
    owner, a symlink, a full disk) must not hide the error being reported.
    """
    if not strict:
        with contextlib.suppress(TrigonSyncError, OSError):
            append(line)
        return
    if not paths.home_dir().is_dir():
        return  # a home never set up (a mistyped --home): nothing to log, nothing to create
    directory = home_safety.guard_write(paths.logs_dir())
    paths.ensure_dir(directory)
    stamp = clock.now().isoformat(timespec="seconds")
    # 0600 like every other file in the home (the umask would leave it world-readable).
    fd = home_safety.open_for_append(directory / LOG_NAME)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(f"{stamp} {redact.scrub(' '.join(line.split()))}\n")
