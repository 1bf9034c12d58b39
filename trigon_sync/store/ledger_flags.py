"""The newest period's flagged clients, remembered beside the ledger for ``status``.

``status`` names the clients of the newest period whose counts look wrong (billing/anomalies.py
over the ledger). Working that out reads the ledger, which grows with every client and
month: 44 MB at 5,000 clients and five years, 0.8 s and 200 MB for each call monitoring
makes. The answer changes only when the ledger or the ``[anomalies]`` settings do, so
status keeps it in ``<home>/ledger.flags.json`` with the fingerprint (fingerprint.py)
of the ledger it came from and the settings it used, and reads it back only while both
still match: any append (a monthly run, ``accept``), a ledger restored or edited, other
settings, another format, an unreadable file, and the ledger is read again.

Derived and best effort: a home this process cannot write into simply gets the answer
computed every time. The fingerprint is taken before the ledger is read, so a line
appended meanwhile leaves a remembered answer that no longer matches, never one that
matches and misses the line.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trigon_sync.errors import StateError
from trigon_sync.store import fingerprint, paths

FORMAT = 1

Flagged = tuple[dict[str, Any], ...]
"""The flagged clients as ``status --json`` lists them (report.Row.summary_json)."""


def flags_file() -> Path:
    return paths.ledger_flags_file()


def key(ledger_file: Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a remembered answer must match: this ledger now and these settings (None
    when there is no ledger to read)."""
    try:
        made_from = fingerprint.of(ledger_file)
    except OSError:
        return None
    return {"format": FORMAT, "ledger": made_from, "settings": dict(settings)}


def read(wanted: Mapping[str, Any]) -> Flagged | None:
    """The answer remembered for ``wanted`` (see :func:`key`), or None."""
    try:
        doc = json.loads(flags_file().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("key") != dict(wanted):
        return None
    flagged = doc.get("flagged")
    if not isinstance(flagged, list) or not all(isinstance(row, dict) for row in flagged):
        return None
    return tuple(flagged)


def remember(made_for: Mapping[str, Any], flagged: Flagged) -> None:
    """Keep ``flagged`` as the answer for ``made_for`` (silently not, where it cannot)."""
    from trigon_sync.store import atomic  # only after the ledger was read anyway

    text = json.dumps({"key": dict(made_for), "flagged": list(flagged)}, ensure_ascii=False)
    with contextlib.suppress(OSError, StateError):
        atomic.write_private(flags_file(), text)
