"""A `confirm` killed with SIGKILL halfway, then run again: no Uku client exists twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from tests.e2e.flow import SETTLE_SECONDS
from tests.seed_counts import import_counts
from trigon_sync.sandbox import FaultConfig, Running, SandboxWorld, generate_seed, run_sandbox
from trigon_sync.store import paths
from trigon_sync.store.secrets import FileStore
from trigon_sync.store.state import load_state

KILL_AFTER = 100


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    """The 300-firm seed, made when the test runs (at import it cost every collecting
    worker 0.5 s, in runs that leave the e2e tests out too); treat as read-only. Few
    records: the import reads firms and clients only, and a full year of records for 300
    firms cost 2 s of building the sandbox world."""
    return generate_seed(300, seed=3, records_scale=0.02)


@pytest.fixture
def sandbox(seed: dict[str, Any]) -> Iterator[Running]:
    """The 300-firm seed over real sockets; a little Uku latency so the kill lands midway."""
    world = SandboxWorld(seed)
    with run_sandbox(world, uku_faults=FaultConfig(latency_ms=4)) as running:
        yield running


@pytest.fixture
def file_connected(sandbox: Running, write_config: Callable[[str], Path]) -> Running:
    """A home a child process can use: config plus the file token store (no keyring)."""
    write_config(sandbox_config(sandbox, token_store="file", settle_seconds=SETTLE_SECONDS))
    store_sandbox_secrets(sandbox, FileStore(paths.token_file()))
    return sandbox


def clients_in_uku(sandbox: Running) -> int:
    with sandbox.world.lock:
        return len(sandbox.world.uku.clients)


def confirm_process() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trigon_sync", "confirm", "--yes"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


@pytest.mark.e2e
def test_sigkill_halfway_then_rerun_creates_no_client_twice(
    cli: Invoke, file_connected: Running, seed: dict[str, Any]
) -> None:
    """SIGKILL after ~100 creates; the re-run finds those by code and creates only the rest."""
    sandbox = file_connected
    existing_uku_clients = len(seed["uku"]["clients"])  # matching firms plus Uku-only ones
    expected = import_counts(seed)
    to_create = expected.create_selected  # firms without View are left out by default
    assert cli("import-clients").exit_code == 0

    proc = confirm_process()
    deadline = time.monotonic() + 60
    try:
        while clients_in_uku(sandbox) < existing_uku_clients + KILL_AFTER:
            assert proc.poll() is None, f"confirm ended before the kill: {proc.communicate()}"
            assert time.monotonic() < deadline, "confirm made no progress"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stdout and proc.stderr:
            proc.stdout.close()
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    created_by_killed_run = clients_in_uku(sandbox) - existing_uku_clients
    assert KILL_AFTER <= created_by_killed_run < to_create
    assert load_state().staged_import is not None  # the plan survives for the re-run

    rerun = subprocess.run(
        [sys.executable, "-m", "trigon_sync", "confirm", "--yes"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    codes = Counter(c["registration_code"] for c in sandbox.world.uku_state()["clients"])
    assert max(codes.values()) == 1
    assert sum(codes.values()) == existing_uku_clients + to_create
    state = load_state()
    assert len(state.links) == expected.linked_after_confirm
    assert state.staged_import is None
    assert "Next: assign managers and workflows in Uku" in rerun.stdout
