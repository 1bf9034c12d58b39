"""Helpers for CLI tests: a runner and a way to write config.toml into the test home."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from trigon_sync import paths
from trigon_sync.cli.app import app

Invoke = Callable[..., Result]


@pytest.fixture
def cli() -> Invoke:
    """Run ``trigon-sync`` in-process with the given arguments (and optional stdin text)."""
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=stdin)

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
