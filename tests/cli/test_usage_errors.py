"""Bad command lines fail like every other error: one ``error:`` line, exit code 2."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],  # printed while the command line is parsed
        ["schedule", "--today", "2024-10-31", "--count", "120", "--json"],  # by a command
    ],
)
def test_a_reader_that_goes_away_stops_the_tool_quietly(args, write_config):
    """`trigon-sync … | head`: the reader closes the pipe; no "unexpected error", no
    traceback, exit 141 as for a tool SIGPIPE stopped (README, "Exit codes")."""
    write_config('[summary]\nfirst_import_date = 2024-10-01\nschedule = "last_calendar_day"\n')
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte is written
    try:
        done = subprocess.run(
            [sys.executable, "-m", "trigon_sync", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 141
