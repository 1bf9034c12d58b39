"""Shared output helpers: consoles, JSON, and confirmation that is safe under cron.

Human output goes through rich; ``--json`` output is exactly one JSON document on stdout
so scripts can pipe it; prompts are refused when no one is at a terminal, so a cron job
never hangs waiting for an answer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from trigon_sync.errors import UsageError

stdout = Console(highlight=False)
"""Tables and human-readable results (resolves ``sys.stdout`` at print time)."""
stderr = Console(stderr=True, highlight=False)
"""Warnings and tracebacks with ``--verbose``."""


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
    """The JSON text ``print_json`` writes (dates as ISO strings)."""
    return json.dumps(obj, default=_json_default, ensure_ascii=False, indent=2)


def print_json(obj: Any) -> None:
    """Write ``obj`` as one JSON document on stdout."""
    typer.echo(to_json(obj))


def is_interactive() -> bool:
    """Whether a person can answer a prompt (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def confirm(question: str, yes: bool) -> bool:
    """Ask ``question`` on a terminal; ``--yes`` answers for the user; no TTY -> UsageError."""
    if yes:
        return True
    if not is_interactive():
        raise UsageError(
            "this change needs confirmation but there is no terminal to ask on",
            hint="pass --yes to confirm it",
        )
    return typer.confirm(question, default=False)
