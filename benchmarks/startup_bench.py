"""How fast do the interactive entry points start? `sandbox serve`, `status`, a 500-firm world.

The test suite checks what these do (the server answers, `status` sends no request, the
world indexes every record) and only guards against hangs; the figures live here.
Prints best, median and worst of N runs each (seconds):

- ``sandbox serve --firms 50 --json``: process start to the JSON banner, and to the first
  answered ``GET /api/v3/clients`` (goal: < 3 s);
- ``status --json`` in a fully set-up, healthy home (config, file token store, a linked
  client), as a child process (goal: < 0.5 s);
- ``SandboxWorld(generate_seed(500))`` in-process: indexing the benchmark-size seed
  (goal: well under 1 s).

    .venv/bin/python benchmarks/startup_bench.py [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from monthly_bench import write_config

from trigon_sync import clock
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.secrets import TRIGON_REFRESH_TOKEN, UKU_API_KEY, Secret, open_store
from trigon_sync.state import ClientLink, locked_state


def row(name: str, times: list[float]) -> None:
    print(f"{name:<48} {min(times):>6.3f} {statistics.median(times):>7.3f} {max(times):>6.3f}")


def serve_once(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from Popen to the banner, and to the first answered request."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "trigon_sync", "sandbox", "serve", "--firms", "50", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        if process.stdout is None:
            raise SystemExit("sandbox serve has no stdout pipe")
        banner = json.loads(process.stdout.readline())
        to_banner = time.perf_counter() - started
        answer = httpx.get(
            f"{banner['uku_url']}/clients",
            headers={"X-API-Key": banner["uku_api_key"], "X-Uku-Company": banner["uku_company"]},
            timeout=10,
        )
        answer.raise_for_status()
        to_answer = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    return to_banner, to_answer


def status_once(env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "trigon_sync", "status", "--json"],
        env=env,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"status exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def world_once() -> float:
    data = generate_seed(500, seed=0)
    started = time.perf_counter()
    SandboxWorld(data)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        home = Path(tmp) / "home"
        os.environ["TRIGON_SYNC_HOME"] = str(home)
        write_config(home, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/api/v3")
        config = home / "config.toml"  # counting from yesterday: nothing overdue, status exits 0
        yesterday = clock.today() - dt.timedelta(days=1)
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                "first_import_date = 2024-10-01", f"first_import_date = {yesterday.isoformat()}"
            ),
            encoding="utf-8",
        )
        store = open_store("file")
        store.set(TRIGON_REFRESH_TOKEN, Secret("bench-refresh-token"))
        store.set(UKU_API_KEY, Secret("bench-api-key"))
        with locked_state() as session:
            session.state.links["F1"] = ClientLink("F1", "10137319", "Firm", 1, dt.date(2024, 9, 1))
            session.save()
        env = dict(os.environ)

        print(f"start-up, {args.runs} runs each (seconds)")
        print(f"{'what':<48} {'best':>6} {'median':>7} {'worst':>6}")
        served = [serve_once(env) for _ in range(args.runs)]
        row("sandbox serve --firms 50: banner printed", [b for b, _ in served])
        row("sandbox serve --firms 50: first GET answered", [a for _, a in served])
        row("status --json (child process)", [status_once(env) for _ in range(args.runs)])
        row("SandboxWorld(500-firm seed) built", [world_once() for _ in range(args.runs)])


if __name__ == "__main__":
    main()
