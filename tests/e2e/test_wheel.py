"""The wheel a production install is made from (pipx, pip) carries the set-up examples."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from trigon_sync.trigon.contract import SHAPES

ROOT = Path(__file__).parents[2]
BUILD_SYSTEM = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
SHIPPED = ("config.example.toml", "crontab.example", "trigon-sync.service", "trigon-sync.timer")


def build_isolation() -> list[str]:
    """``--no-build-isolation`` when this environment already has the backend the project
    declares (the dev extra installs it), else nothing: pip then builds in a fresh isolated
    environment, which means a download from the package index (30 s with no network, of
    which 5 s of CPU) to build the same wheel with the same backend."""
    for requirement in map(Requirement, BUILD_SYSTEM["requires"]):  # "setuptools>=68"
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return []
        if installed not in requirement.specifier:
            return []
    return ["--no-build-isolation"]


@pytest.mark.e2e
def test_the_wheel_carries_the_examples(tmp_path: Path) -> None:
    """A production install (pipx, pip from the wheel) has every example to copy."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *build_isolation(),
         "--disable-pip-version-check", str(ROOT), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # pip's build tree on the tests' tmpfs
    )  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {built.stderr.strip()[-200:]}")
    (wheel,) = tmp_path.glob("trigon_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SHIPPED:
        assert f"trigon_sync/examples/{name}" in names
    for shape in SHAPES:  # doctor --probe reads Trigon's contract from the package
        assert f"trigon_sync/trigon/schemas/{shape}.schema.json" in names
