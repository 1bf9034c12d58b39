"""`--help` a new admin can read at 80 columns: nothing cut, no `<bool>`, commands in the
order they are used, and shell completion that can be installed."""

from __future__ import annotations

import re

import click
import pytest
from typer.testing import CliRunner

from trigon_sync.cli.app import COMMANDS, app
from trigon_sync.schedule.rules import RULE_KINDS

runner = CliRunner()


def help_of(*path: str) -> str:
    result = runner.invoke(app, [*path, "--help"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand, as the argument list that reaches it."""
    found: list[tuple[str, ...]] = []
    for name in COMMANDS:
        root = click.Context(click.Group())  # get_command only needs a context
        command = app_group().get_command(root, name)
        assert command is not None
        found.append((name,))
        for sub in getattr(command, "commands", {}):
            found.append((name, sub))
    return found


def app_group() -> click.Group:
    import typer

    return typer.main.get_group(app)


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_help_at_80_columns_cuts_nothing_and_shows_no_bool(path: tuple[str, ...]) -> None:
    """Each option's names and allowed values are printed whole, within 80 columns."""
    text = help_of(*path)
    assert "…" not in text and "<bool>" not in text and "\\[" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    command = app_group()
    ctx = click.Context(command)
    for part in path:
        command = command.get_command(ctx, part)  # type: ignore[attr-defined]  # only groups are walked into
    flat = " ".join(text.split())
    for param in command.params:
        for name in (*param.opts, *param.secondary_opts):
            if name.startswith("-"):
                assert re.search(rf"(^|[\s,/]){re.escape(name)}($|[\s,=/])", flat), name


def test_allowed_values_are_printed_whole() -> None:
    """map-fields names every schedule rule in full (they were cut to 'last_calendar_d…')."""
    flat = " ".join(help_of("map-fields").split())
    for kind in RULE_KINDS:
        assert f"{kind}," in flat or f"{kind}." in flat or f"{kind})" in flat


def test_commands_are_listed_in_the_order_a_new_admin_uses_them() -> None:
    """connect, connect-uku, import-clients, confirm, map-fields, run-monthly, status, doctor."""
    text = help_of()
    listed = re.findall(r"^  ([a-z-]+)\s", text.split("Commands:")[1], flags=re.MULTILINE)
    assert listed[:8] == [
        "connect",
        "connect-uku",
        "import-clients",
        "confirm",
        "map-fields",
        "run-monthly",
        "status",
        "doctor",
    ]
    assert sorted(listed) == sorted(COMMANDS)


def test_shell_completion_can_be_shown_and_completes_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--show-completion prints a script; the completion answers with command names."""
    # the shell named, not detected: detection reads the process tree, where a background
    # job or CI runner need not have a shell ("Shell  not supported."); Typer reads this
    # when it builds the command, before CliRunner's own env applies
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    shown = runner.invoke(app, ["--show-completion", "bash"])
    assert shown.exit_code == 0, shown.output
    assert "_TRIGON_SYNC_COMPLETE" in shown.stdout
    done = runner.invoke(
        app,
        [],
        prog_name="trigon-sync",
        env={
            "_TRIGON_SYNC_COMPLETE": "complete_bash",
            "COMP_WORDS": "trigon-sync connect",
            "COMP_CWORD": "1",
        },
    )
    assert done.stdout.split() == ["connect", "connect-uku"]
