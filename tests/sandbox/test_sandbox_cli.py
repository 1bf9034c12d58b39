"""`trigon-sync sandbox serve` and `sandbox seed`: start-up, curl-like use, clean stop."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.json_schemas import check_output
from trigon_sync.cli.app import app
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import SANDBOX_COMPANY, SANDBOX_UKU_KEY, generate_seed, load_seed

runner = CliRunner()


def start_serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trigon_sync", "sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


HANG_GUARD = 60  # seconds; a hang guard, not a speed claim (benchmarks/startup_bench.py times it)


def read_banner(process: subprocess.Popen[str]) -> dict:
    """The first stdout line as JSON, failing instead of hanging if it never comes."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], HANG_GUARD)
    assert ready, f"no banner within {HANG_GUARD} s"
    line = process.stdout.readline()
    check_output(["sandbox", "serve", "--json"], line)
    return json.loads(line)


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], dict]]:
    """`sandbox serve --firms 50 --json` as a subprocess: (process, banner)."""
    process = start_serve("--firms", "50", "--json")
    try:
        yield process, read_banner(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_serve_starts_and_answers_clients(
    served: tuple[subprocess.Popen[str], dict],
) -> None:
    """`sandbox serve --firms 50` prints its banner, then serves the seed's Uku clients."""
    _process, banner = served
    answer = httpx.get(
        f"{banner['uku_url']}/clients",
        headers={"X-API-Key": banner["uku_api_key"], "X-Uku-Company": banner["uku_company"]},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["meta"]["total"] == len(generate_seed(50, seed=0)["uku"]["clients"])
    assert banner["uku_api_key"] == SANDBOX_UKU_KEY and banner["uku_company"] == SANDBOX_COMPANY
    assert banner["trigon_users"][0]["email"] == "admin@firm.ee"
    assert banner["trigon_url"].startswith("http://127.0.0.1:")


def test_serve_stops_cleanly_on_sigterm(served: tuple[subprocess.Popen[str], dict]) -> None:
    """SIGTERM stops both servers and the process exits 0 with nothing on stderr."""
    process, banner = served
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None and process.stderr.read() == ""
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{banner['uku_url']}/clients", timeout=1)


def test_serve_human_banner_and_ctrl_c(tmp_path: Path) -> None:
    """Without --json it prints URLs and credentials; Ctrl-C (SIGINT) stops it with exit 0."""
    process = start_serve("--firms", "3", "--latency-ms", "5", "--fault-rate", "0.1")
    guard = threading.Timer(HANG_GUARD, process.kill)  # a hang ends as EOF below
    guard.start()
    try:
        assert process.stdout is not None
        lines = []
        while not any("Ctrl-C" in line for line in lines):
            line = process.stdout.readline()
            assert line, "serve exited before printing its banner"
            lines.append(line)
        text = "".join(lines)
        assert "http://127.0.0.1:" in text and "/api/v3" in text
        assert "admin@firm.ee" in text and SANDBOX_UKU_KEY in text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "Sandbox stopped." in process.stdout.read()
    finally:
        guard.cancel()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_seed_command_writes_seed_and_register(tmp_path: Path) -> None:
    """`sandbox seed` writes a loadable seed and a register zip with the real member name."""
    out, reg = tmp_path / "seed.json", tmp_path / "reg.zip"
    result = runner.invoke(
        app, ["sandbox", "seed", "--firms", "25", "--out", str(out), "--register-out", str(reg)]
    )
    assert result.exit_code == 0, result.output
    assert len(load_seed(out).trigon.firms) == 25
    with zipfile.ZipFile(reg) as archive:
        assert archive.namelist() == ["ettevotja_rekvisiidid__lihtandmed.csv"]


def test_seed_command_makes_a_busy_uku_company(tmp_path: Path) -> None:
    """`sandbox seed --unrelated-tasks N` writes N unrelated tasks as one small object
    (made up when served), and `serve --seed FILE --unrelated-tasks` is refused."""
    out = tmp_path / "seed.json"
    args = ["sandbox", "seed", "--firms", "2", "--out", str(out), "--unrelated-tasks", "100000"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["uku"]["unrelated_tasks"]["count"] == 100_000
    unrelated = load_seed(out).uku.unrelated_tasks
    assert unrelated is not None and unrelated.count == 100_000
    assert out.stat().st_size < 50_000
    serve = ["sandbox", "serve", "--seed", str(out), "--unrelated-tasks", "5"]
    assert runner.invoke(app, serve).exit_code == ExitCode.USAGE


def test_serve_refuses_seed_and_firms_together(tmp_path: Path) -> None:
    """--seed and --firms together is a usage error (exit 2), before anything starts."""
    seed = tmp_path / "s.json"
    runner.invoke(app, ["sandbox", "seed", "--firms", "2", "--out", str(seed)])
    result = runner.invoke(app, ["sandbox", "serve", "--seed", str(seed), "--firms", "3"])
    assert result.exit_code == ExitCode.USAGE


def test_serve_rejects_an_invalid_seed_file(tmp_path: Path) -> None:
    """A seed file that fails validation is a usage error naming the problem."""
    seed = tmp_path / "bad.json"
    seed.write_text(json.dumps({"trigon": {"firms": [{"id": "f1"}]}}), encoding="utf-8")
    result = runner.invoke(app, ["sandbox", "serve", "--seed", str(seed)])
    assert result.exit_code == ExitCode.USAGE
    assert "$.trigon.firms[0].name" in result.output
