"""How close does run-monthly get to the rate limits? (500 clients x 14 fields by default)

Serves a generated world on 127.0.0.1 with per-request latency and set rate limits,
links every firm, maps all 14 fields and runs one monthly period through the real
clients (real pacer, real sleeps). Prints the wall time beside the physical limit —
for each rate-limited bucket, requests / allowed rate — and their ratio (goal: < 1.15).
A fixed-window limiter lets the first window's requests through at once, so a ratio
somewhat below 1 is possible.

    .venv/bin/python benchmarks/monthly_bench.py [--clients 500] [--latency-ms 20]
        [--trigon-limit 2000] [--uku-write-limit 200] [--window 10] [--workers 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from _common import sandbox_home

from trigon_sync import atomic, clock, connections, fields, monthly
from trigon_sync.config import load_config
from trigon_sync.sandbox import FaultConfig, SandboxWorld, generate_seed, run_sandbox
from trigon_sync.secrets import open_store

TODAY = dt.date(2024, 10, 31)


class CountingWrites:
    """Counts what the run writes through ``atomic.write_private`` (state.toml)."""

    def __init__(self) -> None:
        self.writes = 0
        self.bytes = 0
        self._original = atomic.write_private

    def __enter__(self) -> CountingWrites:
        def write_private(target: Path, text: str, **kw: object) -> None:
            self.writes += 1
            self.bytes += len(text.encode("utf-8"))
            self._original(target, text, **kw)  # type: ignore[arg-type]  # passes the caller's arguments through

        atomic.write_private = write_private  # type: ignore[assignment]  # a counting wrapper
        return self

    def __exit__(self, *_exc: object) -> None:
        atomic.write_private = self._original  # type: ignore[assignment]  # put back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--trigon-limit", type=int, default=2000, help="requests per window")
    parser.add_argument("--uku-read-limit", type=int, default=2000, help="reads per window")
    parser.add_argument("--uku-write-limit", type=int, default=200, help="writes per window")
    parser.add_argument("--window", type=float, default=10.0, help="rate window, seconds")
    parser.add_argument("--workers", type=int, default=monthly.DEFAULT_WORKERS)
    args = parser.parse_args()

    seed = generate_seed(args.clients, seed=1, no_view=0)
    world = SandboxWorld(seed)
    faults = FaultConfig(
        latency_ms=args.latency_ms,
        trigon_limit=args.trigon_limit,
        uku_read_limit=args.uku_read_limit,
        uku_write_limit=args.uku_write_limit,
        window_seconds=args.window,
        exempt_paths=("/v1/auth/",),
    )
    with (
        tempfile.TemporaryDirectory(prefix="monthly-bench-") as tmp,
        run_sandbox(world, faults=faults) as running,
    ):
        _home, linked = sandbox_home(tmp, world, running)
        config = load_config()
        store = open_store("file")
        world.clear_logs()
        running.set_faults(**{})  # fresh rate windows: the set-up used none of the budget

        print(
            f"run-monthly benchmark: {linked} clients x {len(fields.KEYS)} fields, "
            f"{args.latency_ms:g} ms latency, {args.workers} workers; limits per "
            f"{args.window:g} s: Trigon {args.trigon_limit}, Uku read {args.uku_read_limit}, "
            f"Uku write {args.uku_write_limit}"
        )
        with (
            connections.trigon_client(config, store) as trigon,
            connections.uku_client(config, store) as uku,
        ):
            started = time.perf_counter()
            with CountingWrites() as written:
                result = monthly.run_monthly(
                    config, trigon, uku, today=TODAY, now=clock.now, workers=args.workers
                )
            wall = time.perf_counter() - started
            t_stats, u_stats = trigon.stats.as_dict(), uku.stats.as_dict()

    requests = world.requests("trigon") + world.requests("uku")
    tiers = {"trigon": len(world.requests("trigon")), "read": 0, "write": 0}
    for entry in world.requests("uku"):
        tiers[entry["tier"] or "read"] += 1
    limits = {
        "trigon": args.trigon_limit,
        "read": args.uku_read_limit,
        "write": args.uku_write_limit,
    }
    rows = {tier: tiers[tier] / (limits[tier] / args.window) for tier in tiers}
    physical = max(rows.values())
    latency_floor = tiers["trigon"] * args.latency_ms / 1000 / args.workers
    rejected = sum(1 for r in requests if r["status"] == 429)
    period = result.periods[0]
    print(
        f"tasks created {result.count('created')}, failed {len(result.failed)}, "
        f"period complete: {period.complete}"
    )
    for tier, seconds in rows.items():
        print(
            f"  {tier:<7} {tiers[tier]:>6} requests at {limits[tier] / args.window:>7.1f}/s "
            f"-> {seconds:>7.2f} s"
        )
    print(f"  retries {t_stats['retries'] + u_stats['retries']}, 429 answers {rejected}")
    uku_requests = tiers["read"] + tiers["write"]
    print(
        f"requests per client: {len(requests) / linked:.2f} "
        f"(Trigon {tiers['trigon'] / linked:.2f}, Uku {uku_requests / linked:.2f})"
    )
    print(f"state.toml writes {written.writes}, bytes written {written.bytes}")
    print(f"latency floor (Trigon requests x latency / workers): {latency_floor:.2f} s")
    print(f"physical limit (requests / allowed rate, slowest bucket): {physical:.2f} s")
    print(f"wall time: {wall:.2f} s")
    print(f"ratio wall / physical limit: {wall / physical:.3f} (goal < 1.15)")


if __name__ == "__main__":
    main()
