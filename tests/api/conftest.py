"""Fixtures shared by the owed-period tests: one 36-firm world, two firms without View."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monthly_env import Env, connect, link_firms, make_config

from trigon_sync.sandbox import SandboxWorld
from trigon_sync.sandbox.generator import generate_seed


@pytest.fixture
def seed36() -> dict[str, Any]:
    """36 firms, two of them listed for admin@firm.ee without View."""
    return generate_seed(36, seed=22)


@pytest.fixture
def env36(seed36: dict[str, Any], tmp_path: Path) -> Iterator[Env]:
    """Every firm linked, connected to the world in-process."""
    world = SandboxWorld(seed36)
    link_firms(world)
    made = connect(world, make_config(), tmp_path)
    yield made
    made.close()
