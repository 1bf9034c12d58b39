"""The core CLI works without the sandbox extra (no click, Starlette or uvicorn).

Typer vendors its own click; production installs `trigon-sync` without `[sandbox]`, so
an import of any of those packages outside the sandbox would break every cron job.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKING_RUNNER = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"click", "starlette", "uvicorn"}:
            raise ImportError("blocked import of " + name)
        return None

sys.meta_path.insert(0, Block())
from trigon_sync.cli.app import main
sys.argv = ["trigon-sync", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["schedule"],
        ["status"],
        ["run-monthly", "--quiet"],
        ["config", "check"],
        ["history"],
        ["map-fields", "--show"],
        ["import-clients", "--help"],
    ],
)
def test_core_commands_need_no_sandbox_packages(args):
    """Each command runs to its own answer (any documented code), never an ImportError."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCKING_RUNNER, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "blocked import" not in done.stderr + done.stdout
    assert done.returncode != 1, done.stderr
