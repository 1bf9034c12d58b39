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

import dataclasses
import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import redact
from trigon_sync.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from trigon_sync.cli.consoles import SafeConsole

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
    """Print ``text`` as one logical line (see :func:`one_line`), never as markup: wrapped
    at word boundaries on a terminal, one physical line in a pipe or cron mail."""
    console = _console("stderr" if to_stderr else "stdout")
    console.print(one_line(text), markup=False, soft_wrap=unwrapped(console), highlight=False)


def unwrapped(console: Console) -> bool:
    """Whether ``console`` keeps each item on one physical line (``soft_wrap``).

    A person at a terminal reads lines wrapped at word boundaries (the terminal itself
    would break ``fiel`` / ``ds``); a pipe, a file or cron mail gets one line per item,
    so ``grep`` and mail filters still see whole items.
    """
    return not console.is_terminal


def item(console: Console, prefix: str | Text, body: str | Text) -> None:
    """One list item: ``prefix`` then ``body``; on a terminal the body wraps at word
    boundaries with a hanging indent under itself, elsewhere it stays one line."""
    from rich.table import Table
    from rich.text import Text

    head = prefix if isinstance(prefix, Text) else Text(prefix)
    text = body if isinstance(body, Text) else Text(body)
    if unwrapped(console):
        console.print(Text.assemble(head, text), soft_wrap=True)
        return
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(head, text)
    console.print(grid)


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


def print_json(obj: Any) -> None:
    """Write ``obj`` as one JSON document on stdout (:func:`document`: scrubbed,
    terminal-safe)."""
    typer.echo(document(obj))


def is_interactive() -> bool:
    """Whether a person can answer a prompt: the answer comes from stdin and the question
    goes to stderr, so both must be a terminal; stdout may be redirected to a file
    (``connect … > out.txt`` still asks for the password)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def ask_yes_no(question: str, *, default: bool) -> bool:
    """The one yes/no prompt style (``[y/N]``, the capital is what Enter answers), asked
    on stderr so that stdout can be a file."""
    return typer.confirm(question, default=default, err=True)


def ask_text(question: str, *, default: str | None = None, hidden: bool = False) -> str:
    """The one text prompt style (``Question [default]:``), asked on stderr."""
    return str(typer.prompt(question, default=default, hide_input=hidden, err=True))


def confirm(question: str, yes: bool) -> bool:
    """Ask ``question`` on a terminal; ``--yes`` answers for the user; no TTY -> UsageError."""
    if yes:
        return True
    if not is_interactive():
        raise UsageError(
            "this change needs confirmation but there is no terminal to ask on",
            hint="pass --yes (-y) to confirm it",
        )
    return ask_yes_no(question, default=False)
