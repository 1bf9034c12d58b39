"""How close to a bare Python start are the calls made all day long? Paired, at two sizes.

Cron starts ``run-monthly --quiet`` every night (nothing is due on almost all of them)
and monitoring calls ``status --json`` every few minutes. Issue 17's goal: both within
about 4x ``python -c pass`` on the same machine, whatever the number of clients and the
years of history. Each round runs, back to back, ``python -c pass``, both calls through
the ``trigon-sync`` console script (the fast entry, cli/entry.py), and the no-op through
the full Typer app (what every call cost before); the ratio is taken within each round
(paired: a busy moment slows the whole round) and the median over rounds is printed,
with the medians of the times themselves.

Homes (benchmarks/_common.py ``aged_home``): one linked client and a year of history,
and 5,000 linked clients with five years (state.toml ~830 KB, ledger.jsonl ~44 MB);
each counted up to last month, so nothing is due today, with a file token store.
``status --json`` is timed as monitoring meets it (the flagged clients of this ledger
remembered) and as the first call after the ledger changed (it reads the ledger again).

    .venv/bin/python benchmarks/noop_bench.py [--rounds 21] [--clients 5000] [--years 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import aged_home

FULL_APP = "import sys; from trigon_sync.cli.app import main; sys.argv[0] = 'trigon-sync'; main()"


def once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()}")
    return took


def measure(home: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """name -> (median seconds, median ratio to `python -c pass` within a round)."""
    exe = sys.executable
    script = str(Path(exe).with_name("trigon-sync"))
    env = {**os.environ, "TRIGON_SYNC_HOME": str(home)}
    ledger = home / "ledger.jsonl"
    status = [script, "status", "--json"]
    # name -> (argv, what to do first: a touched ledger is read again, see ledger_flags.py)
    cases: dict[str, tuple[list[str], Callable[[], None]]] = {
        "python -c pass": ([exe, "-c", "pass"], lambda: None),
        "run-monthly --quiet (nothing due)": ([script, "run-monthly", "--quiet"], lambda: None),
        "status --json": (status, lambda: None),
        "status --json, first after a ledger write": (status, lambda: os.utime(ledger)),
        "run-monthly --quiet, full Typer app": (
            [exe, "-c", FULL_APP, "run-monthly", "--quiet"],
            lambda: None,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    ratios: dict[str, list[float]] = {name: [] for name in cases}
    for argv, _ in cases.values():
        once(argv, env)  # warm the page cache and the .pyc files
    once(status, env)  # status remembers the flagged clients of this ledger
    for _ in range(rounds):
        floor = 0.0
        for name, (argv, before) in cases.items():
            before()
            took = once(argv, env)
            floor = floor or took
            times[name].append(took)
            ratios[name].append(took / floor)
    return {
        name: (statistics.median(times[name]), statistics.median(ratios[name])) for name in cases
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--years", type=int, default=5)
    args = parser.parse_args()
    sizes = [(1, 1), (args.clients, args.years)]
    for clients, years in sizes:
        with tempfile.TemporaryDirectory(prefix="noop-bench-") as tmp:
            home = aged_home(tmp, clients=clients, years=years)
            size = (home / "state.toml").stat().st_size
            print(
                f"\n{clients} client(s), {years} year(s) of history, "
                f"state.toml {size / 1000:.0f} KB; {args.rounds} paired rounds"
            )
            print(f"{'command':<44} {'median s':>9} {'x pass (paired)':>16}")
            for name, (median, ratio) in measure(home, args.rounds).items():
                print(f"{name:<44} {median:>9.3f} {ratio:>15.1f}x")


if __name__ == "__main__":
    main()
