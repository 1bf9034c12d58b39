"""Does a period cost more after five years of history? (1,000 clients by default)

Runs two periods of run-monthly (2024-10, then 2024-11, measured: one earlier period in
the topic), then fills the topic with the monthly tasks of every client for the years
before (2019-12 .. 2024-09: with 2024-10 and 2024-11, five years of history) and runs
the next period (2024-12, measured). Prints, for each, the Uku requests the period took,
the pages of its task lookup and the tool's peak traced memory (tracemalloc, started
after the history was stored, so the sandbox's own copy of it is not counted). No
latency, no rate limits.

The sandbox honours the task list's date filter, as the real Uku does (docs/uku-api.md);
where a deployment dropped it, the lookup would read the whole topic again.

    .venv/bin/python benchmarks/history_bench.py [--clients 1000] [--years 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import tracemalloc
from typing import Any

from _common import sandbox_home

from trigon_sync import clock
from trigon_sync.cli import connections
from trigon_sync.monthly import run as monthly
from trigon_sync.sandbox import FaultConfig, SandboxWorld, generate_seed, run_sandbox
from trigon_sync.store.config_file import load_config
from trigon_sync.store.secrets import open_store

TOPIC = "Bookkeeping"
UNLIMITED = FaultConfig(trigon_limit=10**9, uku_read_limit=10**9, uku_write_limit=10**9)


def month_ends(first: dt.date, count: int) -> list[dt.date]:
    out, year, month = [], first.year, first.month
    for _ in range(count):
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        out.append(nxt - dt.timedelta(days=1))
        year, month = nxt.year, nxt.month
    return out


def fill_history(world: SandboxWorld, months: int) -> int:
    """One finished monthly task per client for each of ``months`` months before 2024-10,
    stored directly."""
    store = world.uku
    with world.lock:
        topic = next(t["id"] for t in store.topics if t["name"] == TOPIC)
        clients = [c["id"] for c in store.list_clients()]
        first = dt.date(2024 - (months + 8) // 12, (10 - months % 12 - 1) % 12 + 1, 1)
        for end in month_ends(first, months):
            for client_id in clients:
                task_id = store._next_task
                store.tasks[task_id] = {
                    "id": task_id,
                    "title": f"Monthly summary {end:%Y-%m}",
                    "client_id": client_id,
                    "topic_id": topic,
                    "date": end.isoformat(),
                    "status": "finished",
                    "description": None,
                    "custom_fields": [],
                }
                store._next_task += 1
        return len(store.tasks)


def one_period(world: SandboxWorld, today: dt.date) -> dict[str, Any]:
    config = load_config()
    store = open_store("file")
    world.clear_logs()
    with (
        connections.trigon_client(config, store) as trigon,
        connections.uku_client(config, store) as uku,
    ):
        tracemalloc.start()
        started = time.perf_counter()
        result = monthly.run_monthly(config, trigon, uku, today=today, now=clock.now)
        wall = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    uku_requests = world.requests("uku")
    return {
        "created": result.count("created"),
        "uku": len(uku_requests),
        "task pages": sum(
            1 for r in uku_requests if r["path"].endswith("/tasks") and r["method"] == "GET"
        ),
        "peak MB": peak / 1e6,
        "wall s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--years", type=int, default=5)
    args = parser.parse_args()
    world = SandboxWorld(generate_seed(args.clients, seed=1, no_view=0))
    with (
        tempfile.TemporaryDirectory(prefix="history-bench-") as tmp,
        run_sandbox(world, faults=UNLIMITED) as running,
    ):
        sandbox_home(tmp, world, running)
        one_period(world, dt.date(2024, 10, 31))  # the first period: nothing before it
        first = one_period(world, dt.date(2024, 11, 30))
        stored = fill_history(world, 12 * args.years - 2)
        later = one_period(world, dt.date(2024, 12, 31))
    print(
        f"{args.clients} clients; year one, then after {args.years} years ({stored} tasks stored)"
    )
    print(f"{'':<12}" + "".join(f"{k:>12}" for k in first))
    for name, row in (("year one", first), (f"year {args.years}", later)):
        print(
            f"{name:<12}"
            + "".join(f"{v:>12.2f}" if isinstance(v, float) else f"{v:>12}" for v in row.values())
        )
    for key in ("uku", "task pages", "peak MB"):
        print(f"{key}: year {args.years} / year one = {later[key] / first[key]:.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
