"""The text of every ``--json`` document: one place turns a result into JSON.

Kept apart from output.py (rich, typer) so the fast entry (entry.py) writes the very same
text as the commands without importing either.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from trigon_sync import redact

_JSON_UNSAFE = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def to_json(obj: Any) -> str:
    """The JSON text of ``obj`` (dates as ISO strings), before scrubbing."""
    return json.dumps(obj, default=_json_default, ensure_ascii=False, indent=2)


def document(obj: Any) -> str:
    """``obj`` as the one JSON document a command prints on stdout (no final newline).

    Scrubbed of known secrets; the control characters JSON itself leaves raw (DEL, C1,
    bidi overrides) are written as ``\\uXXXX`` escapes: the same value, terminal-safe.
    """
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", to_json(obj))
    return redact.scrub(text)
