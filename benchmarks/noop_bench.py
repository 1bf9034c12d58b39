"""How long does the nightly no-op take? ``run-monthly --quiet`` on a day with nothing due.

Cron starts the tool every night and almost every night nothing is due, so its start-up
is the tool's most frequent cost. Compares it with ``python -c "import typer"`` (the floor
for any Typer CLI) and a bare ``python -c pass``; best and median of N runs each, in a
throwaway home that is fully set up (config with fields, a linked client). Goal: < 0.5 s.

    .venv/bin/python benchmarks/noop_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monthly_bench import write_config

from trigon_sync.state import ClientLink, locked_state


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        out.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="noop-bench-") as tmp:
        home = Path(tmp) / "home"
        os.environ["TRIGON_SYNC_HOME"] = str(home)
        write_config(home, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/api/v3")
        with locked_state() as session:
            session.state.links["F1"] = ClientLink("F1", "10137319", "Firm", 1, dt.date(2024, 9, 1))
            session.save()
        env = dict(os.environ)
        exe = sys.executable
        script = str(Path(exe).with_name("trigon-sync"))
        cases = {
            "python -c pass": [exe, "-c", "pass"],
            'python -c "import typer"': [exe, "-c", "import typer"],
            "trigon-sync run-monthly --quiet (no-op)": [
                script, "run-monthly", "--quiet", "--today", "15.10.2024",
            ],
            "python -m trigon_sync run-monthly --quiet": [
                exe, "-m", "trigon_sync", "run-monthly", "--quiet", "--today", "15.10.2024",
            ],
        }  # fmt: skip
        print(f"nightly no-op, {args.runs} runs each (seconds)")
        print(f"{'command':<44} {'best':>6} {'median':>7} {'worst':>6}")
        for name, argv in cases.items():
            times = timed(argv, env, args.runs)
            print(
                f"{name:<44} {min(times):>6.3f} {statistics.median(times):>7.3f} {max(times):>6.3f}"
            )


if __name__ == "__main__":
    main()
