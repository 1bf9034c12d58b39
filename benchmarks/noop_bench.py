"""What do the calls made all day long cost beyond starting the CLI? Paired, at two sizes.

Cron starts ``run-monthly --quiet`` every night (nothing is due on almost all of them)
and monitoring calls ``status --json`` every few minutes. Issue 23's goal: both cost no
more than ``trigon-sync --version`` (the Typer app started, nothing read) plus reading a
small state, whatever the number of clients and the years of history. Each round runs,
back to back, ``python -c pass``, ``trigon-sync --version`` and both calls through the
``trigon-sync`` console script (the one entrance, cli/app.py); each call's time is
divided by ``--version``'s and by ``pass``'s within the round (paired: a busy moment
slows the whole round) and the median over rounds is printed, with the medians of the
times themselves: wall time, and CPU time (user + system) of the child, which on a
machine shared with other work is the steadier of the two (a process waiting for a core
counts in wall time only).

Homes (benchmarks/_common.py ``aged_home``): one linked client and a year of history,
and 5,000 linked clients with five years (the ledger, 300,000 rows, and the run history
in records.sqlite3); each counted up to last month, so nothing is due today, with a file
token store. ``--years 1`` beside the default shows the cost is flat in years: nothing
the two calls read grows with history (state.toml holds the links, not the nights).

``--module`` runs ``python -m trigon_sync`` instead of the console script, so that an
older checkout can be measured the same way (``PYTHONPATH=/path/to/old``).

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


Figures = dict[str, tuple[float, float, float, float, float]]
"""name -> median wall s, median paired wall ratio to --version, median CPU s, median paired
CPU ratios to --version and to python -c pass."""


def measure(home: Path, rounds: int, *, module: bool) -> Figures:
    exe = sys.executable
    script = [exe, "-m", "trigon_sync"] if module else [str(Path(exe).with_name("trigon-sync"))]
    env = {**os.environ, "TRIGON_SYNC_HOME": str(home)}
    status = [*script, "status", "--json"]
    # name -> (argv, what to do first)
    cases: dict[str, tuple[list[str], Callable[[], None]]] = {
        "python -c pass": ([exe, "-c", "pass"], lambda: None),
        "trigon-sync --version": ([*script, "--version"], lambda: None),
        "run-monthly --quiet (nothing due)": ([*script, "run-monthly", "--quiet"], lambda: None),
        "status --json": (status, lambda: None),
    }
    samples: dict[str, list[tuple[float, float, float, float, float]]] = {n: [] for n in cases}
    for argv, _ in cases.values():
        once(argv, env)  # warm the page cache and the .pyc files
    for _ in range(rounds):
        times = {}
        for name, (argv, before) in cases.items():
            before()
            times[name] = once(argv, env)
        floor, version = times["python -c pass"], times["trigon-sync --version"]
        for name, (wall, cpu) in times.items():
            samples[name].append((wall, wall / version[0], cpu, cpu / version[1], cpu / floor[1]))
    figures: Figures = {}
    for name, rows in samples.items():
        medians = [statistics.median(column) for column in zip(*rows, strict=True)]
        figures[name] = (medians[0], medians[1], medians[2], medians[3], medians[4])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument(
        "--sizes", default="", help="homes as CLIENTSxYEARS,... (default: 1x1 and the above)"
    )
    parser.add_argument("--module", action="store_true", help="python -m trigon_sync")
    args = parser.parse_args()
    sizes = [(1, 1), (args.clients, args.years)]
    if args.sizes:
        sizes = [(int(c), int(y)) for c, y in (s.split("x") for s in args.sizes.split(","))]
    for clients, years in sizes:
        with tempfile.TemporaryDirectory(prefix="noop-bench-") as tmp:
            home = aged_home(tmp, clients=clients, years=years)
            size = (home / "state.toml").stat().st_size
            records = (home / "records.sqlite3").stat().st_size
            print(
                f"\n{clients} client(s), {years} year(s) of history, "
                f"state.toml {size / 1000:.0f} KB, records.sqlite3 {records / 1e6:.1f} MB; "
                f"{args.rounds} paired rounds"
            )
            print(
                f"{'command':<44} {'wall s':>7} {'x vers':>7} {'CPU s':>7} {'x vers':>7}"
                f" {'x pass':>7}"
            )
            for name, figures in measure(home, args.rounds, module=args.module).items():
                wall, wall_ratio, cpu, cpu_ratio, cpu_pass = figures
                print(
                    f"{name:<44} {wall:>7.3f} {wall_ratio:>6.2f}x {cpu:>7.3f} {cpu_ratio:>6.2f}x"
                    f" {cpu_pass:>6.1f}x"
                )


if __name__ == "__main__":
    main()
