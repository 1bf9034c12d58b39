"""Fixtures shared by the owed-period tests: one 36-firm world, two firms without View."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monthly_env import Env, connect, link_firms, make_config
from world_seeds import fresh_world, seed_document


@pytest.fixture
def seed36() -> dict[str, Any]:
    """36 firms, two of them listed for admin@firm.ee without View (read-only: generated
    once per worker)."""
    return seed_document(36, seed=22)


@pytest.fixture
def env36(seed36: dict[str, Any], tmp_path: Path) -> Iterator[Env]:
    """Every firm linked, connected to the world in-process."""
    world = fresh_world(36, seed=22)  # the seed36 document, read once
    link_firms(world)
    made = connect(world, make_config(), tmp_path)
    yield made
    made.close()
