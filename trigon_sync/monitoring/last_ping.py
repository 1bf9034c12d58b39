"""``<home>/monitoring.json``: when the nightly run last pinged its monitor, and how it went.

``doctor`` reads it to say whether the pings still go out every night (a monitor that
never hears from us alerts on its own; this is the same fact seen from the machine).
Written after each ping of a run, atomically; a failure to write it is ignored: the record
is a convenience, never a reason for a run to fail. It never holds the URL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from trigon_sync.errors import TrigonSyncError
from trigon_sync.monitoring.ping import PingResult
from trigon_sync.store import paths

FILE_NAME = "monitoring.json"


def record_file() -> Path:
    return paths.home_dir() / FILE_NAME


@dataclass(frozen=True)
class LastPing:
    """The newest ping a run sent: when, which signal, whether the monitor took it."""

    at: dt.datetime
    signal: str
    ok: bool
    detail: str


def save(result: PingResult, at: dt.datetime) -> None:
    """Remember ``result`` as the newest ping (best effort)."""
    from trigon_sync.store import atomic

    doc = {
        "ping": {
            "at": at.isoformat(timespec="seconds"),
            "signal": result.name,
            "ok": result.ok,
            "detail": result.detail,
        }
    }
    with contextlib.suppress(OSError, TrigonSyncError):
        atomic.write_private(record_file(), json.dumps(doc, indent=2) + "\n")


def load() -> LastPing | None:
    """The newest ping recorded, or None (none yet, or the file is unreadable)."""
    try:
        doc = json.loads(record_file().read_text(encoding="utf-8"))["ping"]
        at = dt.datetime.fromisoformat(doc["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if at.tzinfo is None:
        return None
    return LastPing(at, str(doc.get("signal")), doc.get("ok") is True, str(doc.get("detail")))
