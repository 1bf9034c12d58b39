"""Every command's `--help` at 80 columns speaks one vocabulary (issue 28, item 3):
UPPERCASE placeholders or spelled-out choices, bare UPPERCASE arguments, the same short
option for the same long one everywhere, repeatable options say so, and no token (an
option, an example value) is broken across lines."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.cli.test_help_layout import app_group, command_paths
from trigon_sync.cli.app import app

runner = CliRunner()
PLACEHOLDER = re.compile(r"^([A-Z][A-Z0-9_]*([=.][A-Z_a-z]+)?|[a-z0-9-]+(\|[a-z0-9-]+)+)$")
"""``N``, ``FILE``, ``KEY=UKU_FIELD``, ``FILE.zip``, ``YYYY-MM`` is not (it is ``[A-Z-]``),
or choices ``keyring|file``."""
SYNONYMS = {"-n": {"--count", "--limit"}}
"""Short options that stand for differently named long options of the same meaning
("how many to show")."""


def help_text(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def command_at(path: tuple[str, ...]) -> Any:  # Typer's vendored click command
    import typer

    command = app_group()
    for part in path:
        command = command.get_command(typer.Context(command), part)
    return command


PATHS = [(), *command_paths()]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "root")
def test_help_speaks_one_vocabulary(path: tuple[str, ...]) -> None:
    """No `<str>`-style placeholder or `{ARG}`; each option's placeholder is UPPERCASE or its
    choices; lines fit 80 columns; repeatable options say so; no token is broken."""
    text = help_text(path)
    assert not re.search(r"<[a-z][a-z ]*>", text), text
    usage = text.split("\n\n")[0]
    assert "{" not in usage, usage
    assert max(len(line) for line in text.splitlines()) <= 80
    flat_words = set(text.split())
    command = command_at(path)
    for param in command.params:
        if param.param_type_name == "argument":
            assert param.metavar == param.metavar.upper()
            assert re.search(rf"\b{param.metavar}\b", usage)
            continue
        if getattr(param, "is_flag", False) or param.hidden:
            continue
        assert param.metavar == "YYYY-MM" or PLACEHOLDER.match(param.metavar), (
            param.opts,
            param.metavar,
        )
        if param.multiple:
            assert "repeatable" in (param.help or "").lower(), param.opts
    # every word of every help text and of the example is printed whole, never split
    texts = [command.help or "", command.epilog or ""]
    texts += [param.help or "" for param in command.params if not param.hidden]
    for source in texts:
        for word in source.split():
            if word.endswith("-"):  # a word that ends in a hyphen ("14-") may end a line
                continue
            assert word in flat_words or word in text, (word, path)


def test_the_same_long_option_has_the_same_short_option_everywhere() -> None:
    """`--yes` is `-y` on every command that has it (it was missing on `unlink`), and one
    short option never means two different things."""
    shorts_of: dict[str, set[str]] = defaultdict(set)
    longs_of: dict[str, set[str]] = defaultdict(set)
    for path in PATHS:
        for param in command_at(path).params:
            if param.param_type_name != "option":
                continue
            names = [*param.opts, *param.secondary_opts]
            longs = [n for n in names if n.startswith("--")]
            shorts = {n for n in names if re.fullmatch(r"-[A-Za-z]", n)}
            for long in longs:
                shorts_of[long] |= shorts or {"(none)"}
                for short in shorts:
                    longs_of[short].add(long)
    assert shorts_of["--yes"] == {"-y"}
    for long, shorts in shorts_of.items():
        assert len(shorts) == 1, (long, shorts)
    for short, longs in longs_of.items():
        assert len(longs) == 1 or longs == SYNONYMS.get(short), (short, longs)


def test_examples_break_at_spaces_only() -> None:
    """`--mode api-key` and a quoted title stay whole at 80 columns (they broke as `api-⏎key`)."""
    connect = help_text(("connect",))
    assert "--mode api-key" in connect or "\n  api-key" in connect
    assert not re.search(r"api-\n", connect)
    mapping = help_text(("map-fields",))
    assert "'Monthly summary {period}'" in mapping
