"""What the run records in ``state.toml``'s ``[[history]]`` say: which ones are monthly runs.

Pure reads of the records (plain dicts, as state.toml holds them). ``status``, ``history``
and the state summary (store/summary.py) ask the same questions of them, so the answers
live here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MONTHLY_COMMAND = "run-monthly"
"""History records written by the monthly run (``command``; ``run-monthly --rerun`` too)."""


def is_monthly_record(entry: Mapping[str, Any]) -> bool:
    """Whether a history record was written by ``run-monthly`` (with or without --rerun)."""
    return str(entry.get("command", "")).split(" ")[0] == MONTHLY_COMMAND


def last_monthly_run(history: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest history record of a monthly run, if any."""
    return next((entry for entry in reversed(history) if is_monthly_record(entry)), None)
