"""Bad command lines fail like every other error: one ``error:`` line, exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run-monthly", "--today", "31.02.2024"], "February 2024 has 29 days"),
        (["schedule", "--count", "0"], "--count"),
        (["no-such-command"], "No such command"),
        (["state", "show", "--bogus"], "No such option: --bogus"),
    ],
)
def test_usage_error_is_one_line_with_exit_code_2(args, fragment):
    """Typer's boxed usage panel is replaced by a single stderr line naming the fix."""
    done = subprocess.run(
        [sys.executable, "-m", "trigon_sync", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "--help" in lines[0]
