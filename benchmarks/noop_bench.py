"""How long does the nightly no-op take? ``run-monthly --quiet`` on a day with nothing due.

Cron starts the tool every night and almost every night nothing is due, so its start-up
is the tool's most frequent cost. Compares it with ``python -c "import typer"`` (the floor
for any Typer CLI) and a bare ``python -c pass``; best and median of N runs each, in a
throwaway home that is fully set up (config with fields, a linked client). Goal: < 0.5 s.

    .venv/bin/python benchmarks/noop_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _common import child_times, offline_home, times_header, times_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="noop-bench-") as tmp:
        offline_home(tmp)
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
        times_header("command", 44)
        for name, argv in cases.items():
            times_row(name, child_times(argv, env, args.runs), 44)


if __name__ == "__main__":
    main()
