"""Helpers for CLI tests: a runner, a way to write config.toml, and the module's sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.cli.sandbox_home import Invoke
from tests.cli.set_up_once import read_seed
from tests.json_schemas import check_output
from trigon_sync.cli.app import app
from trigon_sync.sandbox import Running, SandboxWorld, run_sandbox
from trigon_sync.store import paths


@pytest.fixture
def cli() -> Invoke:
    """Run ``trigon-sync`` in-process with the given arguments (and optional stdin text)."""
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=stdin)
        check_output(args, result.stdout)
        return result

    return invoke


@pytest.fixture
def write_config() -> Callable[[str], Path]:
    """Write config.toml into the isolated home and return its path."""

    def write(text: str) -> Path:
        paths.ensure_home()
        path = paths.config_file()
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def sandbox(seed: dict[str, Any]) -> Iterator[Running]:
    """The module's ``seed`` fixture served on free 127.0.0.1 ports, fresh for each test
    (the document read once per worker: worlds of one read seed share nothing)."""
    with run_sandbox(SandboxWorld(read_seed(seed))) as running:
        yield running
