"""What a TOML file cannot hold, written once for the home's files (config.toml, state.toml).

TOML has no null. Code that edits a document sets a key to ``None`` to mean "remove it",
and a record leaves an unknown value as ``None``; both are dropped on the way to the file,
at every depth, in tables and in arrays of tables alike.
"""

from __future__ import annotations

from typing import Any


def without_none(value: Any) -> Any:
    """``value`` with every table key whose value is None left out, in nested tables and
    in the tables inside arrays (an array keeps its other items as they are)."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value
