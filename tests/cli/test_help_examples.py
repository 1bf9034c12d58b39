"""Every command's --help ends with an example, and that example is a real command line."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from trigon_sync.cli.app import app

# "trigon-sync <args>" up to the end of the line; a trailing "  (comment)" is prose.
COMMAND_LINE = re.compile(r"trigon-sync ([^\n]+)")
TRAILING_COMMENT = re.compile(r"\s{2,}\(.*\)\s*$")


def _walk(command: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command below ``command`` (Typer vendors click, so groups are duck-typed)."""
    yield path, command
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command, info_name=path[-1] if path else "trigon-sync")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, (*path, name))


COMMANDS = [
    pytest.param(path, command, id=" ".join(path) or "trigon-sync")
    for path, command in _walk(typer.main.get_command(app), ())
]


def _examples(epilog: str) -> list[list[str]]:
    lines = [TRAILING_COMMENT.sub("", match) for match in COMMAND_LINE.findall(epilog)]
    return [shlex.split(line) for line in lines]


def test_the_walk_reaches_every_command() -> None:
    """The tree walked below includes nested sub-commands, not just the top level."""
    names = {" ".join(param.values[0]) for param in COMMANDS}
    assert {"run-monthly", "state set-last-period-end", "sandbox demo", "register check"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS)
def test_help_ends_with_a_runnable_example(path: tuple[str, ...], command: Any) -> None:
    """The epilog is the last thing --help shows; every command line in it parses as given."""
    epilog = command.epilog or ""
    assert epilog.startswith("Example"), f"{' '.join(path)}: no example epilog"
    examples = _examples(epilog)
    assert examples, f"{' '.join(path)}: the example names no trigon-sync command line"
    runner = CliRunner()
    for args in examples:
        # --help after the example's own arguments: unknown options or sub-commands fail
        # parsing before help is shown, so exit 0 means the line is well-formed.
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, f"`trigon-sync {shlex.join(args)}`: {result.output}"
