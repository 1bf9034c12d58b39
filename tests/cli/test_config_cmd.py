"""`trigon-sync config check`: all problems at once, or ok."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from tests.cli.test_schedule_cmd import BAD_CONFIGS
from trigon_sync.errors import ExitCode

Invoke = Callable[..., Result]
WriteConfig = Callable[[str], Path]


def test_ok_lists_what_the_monthly_run_still_needs(cli: Invoke, write_config: WriteConfig) -> None:
    """A valid but partial config is "ok", followed by the keys the monthly run needs."""
    write_config('[summary]\nschedule = "last_work_day"\n')
    result = cli("config", "check")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "ok"
    assert "summary.task_title" in result.stdout
    assert "summary.schedule" not in result.stdout


def test_missing_file_is_a_config_error(cli: Invoke) -> None:
    """No config.toml yet: exit 3 and a pointer to the example."""
    result = cli("config", "check")
    assert result.exit_code == ExitCode.CONFIG
    assert "not found" in result.stderr
    assert "config.example.toml" in result.stderr


def test_lists_every_problem(cli: Invoke, write_config: WriteConfig) -> None:
    """Three mistakes are three lines, each file:key: message, and exit 3."""
    path = write_config('[summary]\nschedule = "x"\nauto_complete = 2\n[uku]\ncompani = "c"\n')
    result = cli("config", "check")
    assert result.exit_code == ExitCode.CONFIG
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{path}:") for line in lines)
    assert "did you mean 'company'" in result.stdout
    assert "3 problem(s)" in result.stderr


@pytest.mark.parametrize(("text", "key"), BAD_CONFIGS)
def test_bad_config_sweep(cli: Invoke, write_config: WriteConfig, text: str, key: str) -> None:
    """config check names the file and key of each classic mistake, exit 3, no traceback."""
    path = write_config(text)
    result = cli("config", "check")
    assert result.exit_code == ExitCode.CONFIG
    assert result.stdout.startswith(f"{path}:{key}: ")
    assert "Traceback" not in result.output
