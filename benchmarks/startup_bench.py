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
import subprocess
import sys
import tempfile
import time

import httpx
from _common import child_times, offline_home, times_header, times_row

from trigon_sync import clock
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.store.secrets import TRIGON_REFRESH_TOKEN, UKU_API_KEY, Secret, open_store

WIDTH = 48  # the first column


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
        # counting from yesterday: nothing overdue, status exits 0
        config = offline_home(tmp) / "config.toml"
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
        env = dict(os.environ)

        print(f"start-up, {args.runs} runs each (seconds)")
        times_header("what", WIDTH)
        served = [serve_once(env) for _ in range(args.runs)]
        times_row("sandbox serve --firms 50: banner printed", [b for b, _ in served], WIDTH)
        times_row("sandbox serve --firms 50: first GET answered", [a for _, a in served], WIDTH)
        status = [sys.executable, "-m", "trigon_sync", "status", "--json"]
        times_row("status --json (child process)", child_times(status, env, args.runs), WIDTH)
        built = [world_once() for _ in range(args.runs)]
        times_row("SandboxWorld(500-firm seed) built", built, WIDTH)


if __name__ == "__main__":
    main()
