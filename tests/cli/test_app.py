"""The CLI shell: global options, help, and the one error boundary."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from trigon_sync import __version__
from trigon_sync.cli.boundary import VERBOSE_KEY, GuardedGroup
from trigon_sync.errors import AuthError, BusyError, ExitCode, PartialFailure
from trigon_sync.store import paths

Invoke = Callable[..., Result]


def test_version(cli: Invoke) -> None:
    """--version prints the version and exits 0."""
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"trigon-sync {__version__}"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["schedule"],
        ["state"],
        ["state", "show"],
        ["state", "set-last-period-end"],
        ["config"],
        ["config", "check"],
    ],
)
def test_every_help_has_an_example(cli: Invoke, command: list[str]) -> None:
    """Each command's --help ends with a runnable example."""
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example: trigon-sync" in result.stdout


def test_home_option_sets_the_environment(
    cli: Invoke, tmp_path: Path, write_config: object
) -> None:
    """--home DIR points every path (and child processes) at DIR."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "config.toml").write_text('[summary]\nschedule = "last_work_day"\n')
    result = cli("--home", str(other), "config", "check")
    assert result.exit_code == 0, result.output
    assert os.environ[paths.ENV_HOME] == str(other)


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_home_is_refused_not_taken_as_the_current_directory(
    cli: Invoke, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--home "$UNSET"` in a cron line: exit 2 naming the option, and nothing is written
    where cron happens to start."""
    monkeypatch.chdir(tmp_path)
    before = os.environ[paths.ENV_HOME]
    result = cli(f"--home={value}", "config", "check")
    assert result.exit_code == ExitCode.USAGE
    assert "'--home': is empty" in result.stderr
    assert os.environ[paths.ENV_HOME] == before and list(tmp_path.iterdir()) == []


def test_usage_errors_keep_exit_2(cli: Invoke) -> None:
    """A bad option value is Typer's usage error: exit 2, naming the option."""
    result = cli("schedule", "--today", "31.02.2024")
    assert result.exit_code == ExitCode.USAGE
    flat = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # Typer draws a box
    assert "Invalid value for '--today'" in flat
    assert "February 2024 has 29 days" in flat


def make_app(exc: BaseException) -> typer.Typer:
    """A two-command app under the real boundary whose command raises ``exc``."""
    demo = typer.Typer(cls=GuardedGroup, pretty_exceptions_enable=False)

    @demo.callback()
    def root(ctx: typer.Context, verbose: bool = typer.Option(False, "--verbose")) -> None:
        ctx.meta[VERBOSE_KEY] = verbose

    @demo.command()
    def boom() -> None:
        secret = "token-" + "abc"  # noqa: F841 - a local value that must never be shown
        raise exc

    @demo.command()
    def fine() -> None:
        typer.echo("fine")

    return demo


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (BusyError("another run", hint="wait"), ExitCode.BUSY),
        (AuthError("connection expired", hint="run connect"), ExitCode.AUTH),
        (PartialFailure("2 clients failed"), ExitCode.PARTIAL),
    ],
)
def test_expected_errors_are_one_line_with_their_code(exc: Exception, code: int) -> None:
    """A TrigonSyncError becomes "error: <message — hint>" on stderr and its exit code."""
    result = CliRunner().invoke(make_app(exc), ["boom"])
    assert result.exit_code == code
    assert result.stderr == f"error: {exc}\n"
    assert result.stdout == ""


def test_unexpected_error_is_one_line_without_traceback() -> None:
    """A bug gives exit 1 and one line asking for --verbose; no traceback, no locals."""
    result = CliRunner().invoke(make_app(ValueError("bad math")), ["boom"])
    assert result.exit_code == ExitCode.UNEXPECTED
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "unexpected error (ValueError: bad math)" in lines[0]
    assert "--verbose" in lines[0]


def test_verbose_adds_a_traceback_without_locals() -> None:
    """--verbose shows where it failed but still not the values of local variables."""
    result = CliRunner().invoke(make_app(ValueError("bad math")), ["--verbose", "boom"])
    assert result.exit_code == ExitCode.UNEXPECTED
    assert "Traceback" in result.stderr
    assert "token-abc" not in result.output


def test_keyboard_interrupt_exits_130() -> None:
    """Ctrl-C is reported in one line with the conventional exit code 130."""
    result = CliRunner().invoke(make_app(KeyboardInterrupt()), ["boom"])
    assert result.exit_code == 130
    assert result.stderr.startswith("error: interrupted")


def test_commands_that_succeed_are_untouched() -> None:
    """The boundary is invisible when nothing fails."""
    result = CliRunner().invoke(make_app(ValueError()), ["fine"])
    assert (result.exit_code, result.stdout) == (0, "fine\n")
