"""``probe-facts.json``: what the last ``doctor --probe`` measured, with its date.

A small JSON file of its own (not state.toml): it is rewritten whole by each probe
(atomically, mode 0600) and read by ``run-monthly`` and ``doctor``. Its meaning is
health/probe_facts.py's business; here it is only a JSON object with a schema version.
Deleting it is harmless: the run then assumes the worst again (docs/uku-api.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trigon_sync.errors import StateError
from trigon_sync.store import atomic, paths

SCHEMA_VERSION = 1


def save(facts: Mapping[str, Any]) -> None:
    """Replace the stored facts (they carry their own ``probed_at``)."""
    document = {"schema_version": SCHEMA_VERSION, **facts}
    atomic.write_private(paths.probe_facts_file(), json.dumps(document, indent=2) + "\n")


def load() -> dict[str, Any] | None:
    """The stored facts, or None when no probe ran yet (or a newer version wrote them)."""
    path = paths.probe_facts_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise StateError(
            f"{path} is corrupt", hint="run `trigon-sync doctor --probe` again, or delete it"
        ) from None
    if not isinstance(data, dict):
        raise StateError(f"{path} is corrupt", hint="run `trigon-sync doctor --probe` again")
    if data.get("schema_version") != SCHEMA_VERSION:
        return None
    data.pop("schema_version")
    return data
