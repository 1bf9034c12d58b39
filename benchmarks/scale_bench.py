"""Does run-monthly grow linearly? Time, peak memory and state bytes at 100 / 1,000 / 5,000.

For each size: serves a generated world on 127.0.0.1 (no latency, no rate limits: this
measures the tool, not the limits; see monthly_bench.py for those), links every firm as
import-clients + confirm would, maps all 14 fields, then runs the real CLI as a child
process — ``trigon-sync run-monthly --quiet --today 31.10.2024`` — and reads its peak
RSS (VmHWM) just before it exits. Not ``wait4``'s ru_maxrss: Linux carries the pre-exec
RSS of the forked benchmark process (which holds the whole sandbox world) into it. The
child also counts the bytes it writes to state.toml (atomic writes) and to the period
journal (appends). Goal: linear growth, 5,000 clients under 150 MB.

    .venv/bin/python benchmarks/scale_bench.py [--sizes 100 1000 5000] [--workers 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import sandbox_home

from trigon_sync.sandbox import FaultConfig, SandboxWorld, generate_seed, run_sandbox

# The child: the real CLI, with the two ways it writes state counted on the way out.
CHILD = """
import atexit, json, os, sys
from trigon_sync.store import atomic
counted = {"state_bytes": 0, "state_writes": 0, "journal_bytes": 0}
_write_private, _os_write = atomic.write_private, os.write
def write_private(target, text, **kw):
    counted["state_bytes"] += len(text.encode("utf-8"))
    counted["state_writes"] += 1
    return _write_private(target, text, **kw)
def write(fd, data):
    if fd > 2:
        counted["journal_bytes"] += len(data)
    return _os_write(fd, data)
atomic.write_private, os.write = write_private, write
def report():
    with open("/proc/self/status") as status:  # VmHWM: this program's own peak RSS
        for line in status:
            if line.startswith("VmHWM:"):
                counted["peak_kb"] = int(line.split()[1])
    with open(os.environ["BENCH_OUT"], "w") as out:
        out.write(json.dumps(counted))
atexit.register(report)
from trigon_sync.cli.app import main
sys.argv = ["trigon-sync", *sys.argv[1:]]
main()
"""
NO_LIMITS = FaultConfig(trigon_limit=10**7, uku_read_limit=10**7, uku_write_limit=10**7)


def one_size(n: int, workers: int) -> dict[str, float]:
    world = SandboxWorld(generate_seed(n, seed=1, no_view=0, records_scale=0.2))
    with (
        tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp,
        run_sandbox(world, faults=NO_LIMITS) as running,
    ):
        home, linked = sandbox_home(tmp, world, running)
        out = Path(tmp) / "counted.json"
        env = {**os.environ, "BENCH_OUT": str(out)}
        args = ["run-monthly", "--quiet", "--today", "31.10.2024", "--workers", str(workers)]
        started = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, check=False)
        wall = time.perf_counter() - started
        counted = json.loads(out.read_text())
        tasks = len(world.uku_state()["tasks"])
        state_size = (home / "state.toml").stat().st_size
    return {
        "clients": linked,
        "exit": child.returncode,
        "tasks": tasks,
        "wall": wall,
        "peak_mb": counted.pop("peak_kb") / 1024,
        "state_size": state_size,
        **counted,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    print(f"run-monthly scale: 14 fields, no latency, no rate limits, {args.workers} workers")
    print(
        f"{'clients':>8} {'exit':>4} {'tasks':>6} {'wall s':>7} {'ms/client':>9} "
        f"{'peak MB':>8} {'state.toml':>10} {'state writes':>12} {'state bytes':>11} "
        f"{'journal bytes':>13}"
    )
    for n in args.sizes:
        r = one_size(n, args.workers)
        print(
            f"{r['clients']:>8} {r['exit']:>4} {r['tasks']:>6} {r['wall']:>7.2f} "
            f"{1000 * r['wall'] / r['clients']:>9.2f} {r['peak_mb']:>8.1f} "
            f"{r['state_size']:>10} {r['state_writes']:>12} {r['state_bytes']:>11} "
            f"{r['journal_bytes']:>13}",
            flush=True,
        )


if __name__ == "__main__":
    main()
