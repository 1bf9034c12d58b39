"""The wheel a production install is made from (pipx, pip) carries the set-up examples."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from trigon_sync.trigon.contract import SHAPES

ROOT = Path(__file__).parents[2]
SHIPPED = ("config.example.toml", "crontab.example", "trigon-sync.service", "trigon-sync.timer")


@pytest.mark.e2e
def test_the_wheel_carries_the_examples(tmp_path: Path) -> None:
    """A production install (pipx, pip from the wheel) has every example to copy."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("trigon_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SHIPPED:
        assert f"trigon_sync/examples/{name}" in names
    for shape in SHAPES:  # doctor --probe reads Trigon's contract from the package
        assert f"trigon_sync/trigon/schemas/{shape}.schema.json" in names
