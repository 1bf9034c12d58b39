"""The period's task lookup in a busy Uku company: requests and peak memory per run.

An accounting firm's Uku company holds all of its work, and the production-like sandbox
drops every filter the lookup sends (``topic_id``, ``client_id``, ``q``, the date range).
For 0, 20,000 and 100,000 unrelated tasks (other topics, made-up clients, five years
before the first window: sandbox/unrelated_tasks.py), 50 linked clients, two monthly runs
(2024-10 and 2024-11) each in a process of its own under a small launcher (peak RSS by
``os.wait4``; the sandbox in this process is never measured). ``GET /tasks`` is counted in
the sandbox's request log. Rows:

* ``sorted``: Uku honours ``sort=-created_at`` (the production-like profile);
* ``unsorted``: Uku drops ``sort`` too, so only a full read can be correct;
* ``sorted, 10% lost``: a tenth of the creates committed and answered 5xx or dropped.

    .venv/bin/python benchmarks/task_lookup_bench.py              # 0, 20,000, 100,000
    .venv/bin/python benchmarks/task_lookup_bench.py --sizes 0 5000

No latency and no rate limits: requests decide the time against the real Uku (about
1,200 reads a minute), not here.
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

from _common import LAUNCHER, sandbox_home

from trigon_sync.sandbox import FaultConfig, SandboxWorld, generate_seed, run_sandbox
from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE, UkuBehaviour
from trigon_sync.sandbox.generator import DEFAULT_ANOMALIES

CLIENTS = 50
DAYS = ("2024-10-31", "2024-11-30")
RUN = ("run-monthly", "--quiet", "--today")
NO_LIMITS = FaultConfig(trigon_limit=10**7, uku_read_limit=10**7, uku_write_limit=10**7)
LOST = NO_LIMITS.updated({"seed": 4, "post_commit_fail_rate": 0.10})
SETTLE_SECONDS = 3
"""Above the production-like list lag (2 s), so a lost answer costs seconds, not 30."""


def one_case(
    unrelated: int, behaviour: UkuBehaviour, faults: FaultConfig
) -> tuple[list[int], float, float, int]:
    """Both runs: GET /tasks per run, the higher peak RSS (MB), wall seconds, lost creates."""
    seed = generate_seed(
        CLIENTS, seed=5, unrelated_tasks=unrelated, **dict.fromkeys(DEFAULT_ANOMALIES, 0)
    )
    world = SandboxWorld(seed)
    tool = str(Path(sys.executable).with_name("trigon-sync"))
    gets, peak, wall = [], 0.0, 0.0
    with (
        tempfile.TemporaryDirectory(prefix="lookup-bench-") as tmp,
        run_sandbox(world, faults=NO_LIMITS, uku_faults=faults, uku_behaviour=behaviour) as running,
    ):
        home, _ = sandbox_home(tmp, world, running)
        config = home / "config.toml"
        config.write_text(
            config.read_text().replace("[uku]\n", f"[uku]\nsettle_seconds = {SETTLE_SECONDS}\n")
        )
        for day in DAYS:
            world.clear_logs()
            rusage = Path(tmp) / "rusage.json"
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", LAUNCHER, str(rusage), tool, *RUN, day],
                capture_output=True,
                check=False,
                env=os.environ.copy(),
            )
            wall += time.perf_counter() - started
            got = json.loads(rusage.read_text())
            if got["rc"] != 0 or done.returncode != 0:
                why = done.stderr[:400].decode(errors="replace")
                raise SystemExit(f"run-monthly --today {day} exited {got['rc']}: {why}")
            peak = max(peak, got["kb"] / 1024)
            gets.append(
                sum(
                    1
                    for r in world.requests("uku")
                    if r["method"] == "GET" and r["path"] == "/api/v3/tasks"
                )
            )
        lost = sum(1 for w in world.writes() if w["after_fault"] and w["method"] == "POST")
        tasks = world.uku_state()["tasks"]
        if len(tasks) != CLIENTS * len(DAYS):
            raise SystemExit(f"{len(tasks)} tasks for {CLIENTS} clients x {len(DAYS)} periods")
    return gets, peak, wall, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[0, 20_000, 100_000])
    args = parser.parse_args()
    unsorted = PRODUCTION_LIKE.updated({"drop_sort": True})
    cases = [
        (n, label, behaviour, faults)
        for n in args.sizes
        for label, behaviour, faults in (
            ("sorted", PRODUCTION_LIKE, NO_LIMITS),
            ("unsorted", unsorted, NO_LIMITS),
            ("sorted, 10% lost", PRODUCTION_LIKE, LOST),
        )
    ]
    print(
        f"{CLIENTS} clients, every filter dropped; "
        "two runs (2024-10, 2024-11), each its own process"
    )
    print(
        f"{'unrelated tasks':>15} {'Uku lists':<17} {'GET /tasks per run':>18} "
        f"{'peak RSS MB':>11} {'wall s':>7} {'lost':>5}"
    )
    for n, label, behaviour, faults in cases:
        gets, peak, wall, lost = one_case(n, behaviour, faults)
        runs = " + ".join(str(g) for g in gets)
        print(f"{n:>15,} {label:<17} {runs:>18} {peak:>11.1f} {wall:>7.1f} {lost:>5}", flush=True)


if __name__ == "__main__":
    main()
