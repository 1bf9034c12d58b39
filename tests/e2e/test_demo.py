"""The README's first command: the sandbox demo runs the whole flow and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.e2e
def test_sandbox_demo_runs_every_step_as_expected(tmp_path):
    """`trigon-sync sandbox demo` goes from connect to history with no unexpected exit code."""
    done = subprocess.run(
        [sys.executable, "-m", "trigon_sync", "sandbox", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        # the demo's throw-away home (tempfile.mkdtemp) on the tests' tmpfs, not the disk:
        # each step fsyncs its journal and state, ~2-4 ms apiece on a busy disk
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The summary is true to what came before it: warnings were printed, so it says why.
    assert "Demo finished: all 13 commands exited as expected" in done.stdout
    assert "warning:" in done.stderr + done.stdout
    assert "The `warning:` lines are real" in done.stdout
    assert "Try it by hand: `trigon-sync sandbox serve`" in done.stdout
    # Three periods were created for every linked client, and the password never showed.
    assert "2024-10 (01.10.2024–30.10.2024, import day 31.10.2024): 16 created" in done.stdout
    assert "2024-12 (30.11.2024–30.12.2024, import day 31.12.2024): 16 created" in done.stdout
    assert "sandbox-password" not in done.stdout + done.stderr
    # import-clients ran without --register: it downloaded the sandbox's register file,
    # so the firms missing from it carry the red X.
    assert "$ trigon-sync import-clients\n" in done.stdout
    assert "4 not in the register ✗" in " ".join(done.stdout.split())  # 3 missing + 1 bad digit
    assert "Business Register not checked" not in done.stdout
