"""Shared output helpers: consoles, JSON, and confirmation that is safe under cron.

Human output goes through rich; ``--json`` output is exactly one JSON document on stdout
so scripts can pipe it; prompts are refused when no one is at a terminal, so a cron job
never hangs waiting for an answer.

Text from a server is data, not markup: a firm called ``Foo [/bold] OÜ`` must not crash
a table, and one carrying ``ESC ]8;;`` must not make a link or move the cursor. So:

* :func:`safe` turns a server's name or message into a rich ``Text`` (never parsed as
  markup) with control characters neutralised: use it for every such table cell;
* :func:`plain` does the same for text printed without rich (``typer.echo``);
* both consoles neutralise control characters in everything they write (rich's own
  cursor movements excepted), a net under any string that did not go through
  :func:`safe`.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import redact
from trigon_sync.cli import json_text
from trigon_sync.cli.json_text import to_json
from trigon_sync.errors import UsageError

if TYPE_CHECKING:
    from rich.text import Text

    from trigon_sync.cli.consoles import SafeConsole

__all__ = ["to_json"]  # re-exported: the JSON text is json_text.py's

REPLACEMENT = "\ufffd"
# C0 controls (ESC included) but tab and newline, DEL, C1 controls, and the bidi
# overrides/isolates that reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def neutralise(text: str) -> str:
    """``text`` with every control character replaced by U+FFFD (tab, newline kept)."""
    return _CONTROL.sub(REPLACEMENT, text)


def plain(value: object) -> str:
    """Server text for plain output: one line, no control characters."""
    return neutralise(str(value)).replace("\n", " ").replace("\t", " ")


def one_line(text: object) -> str:
    """A message for one line of stderr (and cron mail): scrubbed of every known secret,
    control sequences neutralised, and no line break a server's text (a firm name with
    CR/LF) could use to forge a line of its own."""
    return " ".join(plain(redact.scrub(str(text))).split())


def line(text: object, *, to_stderr: bool = True) -> None:
    """Print ``text`` as exactly one line (see :func:`one_line`), never as markup."""
    console = _console("stderr" if to_stderr else "stdout")
    console.print(one_line(text), markup=False, soft_wrap=True, highlight=False)


def safe(value: object) -> Text:
    """Server text for rich output: never markup, no control characters, one line."""
    from rich.text import Text

    return Text(plain(value))


def clean(text: str) -> str:
    """What the consoles write of any text: control characters neutralised, known secrets
    scrubbed (a net under text that did not go through :func:`safe`; secrets are scrubbed
    at their sources too, but a table can wrap one)."""
    return redact.scrub(neutralise(text))


stdout: SafeConsole
"""Tables and human-readable results (resolves ``sys.stdout`` at print time)."""
stderr: SafeConsole
"""Warnings and tracebacks with ``--verbose``."""


def __getattr__(name: str) -> Any:
    """``stdout`` and ``stderr`` are made on first use: rich is imported only by a
    command that prints through it (the nightly no-op and ``status --json`` do not)."""
    if name not in ("stdout", "stderr"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _console(name)


def _console(name: str) -> SafeConsole:
    """The console ``name`` (``stdout`` or ``stderr``), made once and then kept as the
    module's attribute, so that every use (and a test's monkeypatch) meets the same one."""
    made = globals().get(name)
    if made is None:
        from trigon_sync.cli.consoles import SafeConsole

        made = SafeConsole(clean=clean, stderr=name == "stderr", highlight=False)
        globals()[name] = made
    return made


def print_json(obj: Any) -> None:
    """Write ``obj`` as one JSON document on stdout (json_text.py: scrubbed, terminal-safe)."""
    typer.echo(json_text.document(obj))


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
