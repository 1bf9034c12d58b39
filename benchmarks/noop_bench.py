"""How close to a bare Python start are the calls made all day long? Paired, at two sizes.

Cron starts ``run-monthly --quiet`` every night (nothing is due on almost all of them)
and monitoring calls ``status --json`` every few minutes. Issue 17's goal: both within
about 4x ``python -c pass`` on the same machine, whatever the number of clients and the
years of history. Each round runs, back to back, ``python -c pass``, both calls through
the ``trigon-sync`` console script (the fast entry, cli/entry.py), and the no-op through
the full Typer app (what every call cost before); the ratio is taken within each round
(paired: a busy moment slows the whole round) and the median over rounds is printed,
with the medians of the times themselves: wall time, and CPU time (user + system) of
the child, which on a machine shared with other work is the steadier of the two (a
process waiting for a core counts in wall time only).

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
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import aged_home

FULL_APP = "import sys; from trigon_sync.cli.app import main; sys.argv[0] = 'trigon-sync'; main()"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one child process."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()}")
    return took, _children_cpu() - cpu


Figures = dict[str, tuple[float, float, float, float]]
"""name -> median wall s, median paired wall ratio, median CPU s, median paired CPU ratio."""


def measure(home: Path, rounds: int) -> Figures:
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
    samples: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in cases}
    for argv, _ in cases.values():
        once(argv, env)  # warm the page cache and the .pyc files
    once(status, env)  # status remembers the flagged clients of this ledger
    for _ in range(rounds):
        floor: tuple[float, float] | None = None
        for name, (argv, before) in cases.items():
            before()
            wall, cpu = once(argv, env)
            floor = floor or (wall, cpu)
            samples[name].append((wall, wall / floor[0], cpu, cpu / floor[1]))
    figures: Figures = {}
    for name, rows in samples.items():
        wall, wall_ratio, cpu, cpu_ratio = (statistics.median(c) for c in zip(*rows, strict=True))
        figures[name] = (wall, wall_ratio, cpu, cpu_ratio)
    return figures


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
            print(f"{'command':<44} {'wall s':>7} {'x pass':>7} {'CPU s':>7} {'x pass':>7}")
            for name, (wall, wall_ratio, cpu, cpu_ratio) in measure(home, args.rounds).items():
                print(f"{name:<44} {wall:>7.3f} {wall_ratio:>6.1f}x {cpu:>7.3f} {cpu_ratio:>6.1f}x")


if __name__ == "__main__":
    main()
