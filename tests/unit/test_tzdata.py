"""Europe/Tallinn resolves without system zone files (slim images, Windows)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_tallinn_resolves_from_the_tzdata_package_alone(tmp_path) -> None:
    """With an empty zone search path, zoneinfo falls back to the tzdata dependency."""
    env = {**os.environ, "PYTHONTZPATH": str(tmp_path / "no-zoneinfo")}
    out = subprocess.run(
        [sys.executable, "-c", "from trigon_sync import clock; print(clock.now().tzname())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert out.stdout.strip() in {"EET", "EEST"}
