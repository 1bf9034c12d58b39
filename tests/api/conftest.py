"""Fixtures shared by the api tests: the sandbox world with every readable firm linked
(``env``; a module that needs another set-up defines its own), and the owed-period tests'
36-firm world with two firms without View."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monthly_env import Env, connect, link_firms, make_config, viewable_firms
from world_seeds import fresh_world, seed_document

from trigon_sync.sandbox import SandboxWorld


@pytest.fixture
def env(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> Iterator[Env]:
    """Every readable firm linked, all 14 fields mapped, last calendar day from 01.10.2024."""
    link_firms(sandbox_world, viewable_firms(sandbox_seed_dict))
    made = connect(sandbox_world, make_config(), tmp_path)
    yield made
    made.close()


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
