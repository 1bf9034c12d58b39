"""run-monthly against rate limits: the tool beside the floor and a plain sequential client.

Serves a generated world on 127.0.0.1 with per-request latency and set rate limits (Uku
sends its reset as the epoch second, as production does), links every firm, maps all 14
fields and runs one monthly period through the real clients (real pacer, real sleeps).
Then, in the same run, a plain sequential httpx client does the same work (14 counts and
one task per client, waiting out a 429 as Retry-After says) against a fresh copy of the
same world with the same limits.

The floor comes from the minimum work, not from what the tool sent: per bucket,
``(ceil(needed / limit) - 1) x window`` (the last window's requests go as it opens),
with needed = clients x 14 Trigon counts and one Uku write per task created.

    .venv/bin/python benchmarks/monthly_bench.py                  # production limits
    .venv/bin/python benchmarks/monthly_bench.py --fast           # a quick look
    .venv/bin/python benchmarks/monthly_bench.py --clients 100    # a scaled run
    .venv/bin/python benchmarks/monthly_bench.py --no-peer        # the tool only

Production limits: Trigon 600 per 60 s, Uku writes 30 per 60 s, Uku reads 600 per 60 s
(Uku's read limit is not documented), 20 ms latency, 8 workers. ``--fast``: the same
latency and workers, limits per 10 s of Trigon 2,000, Uku read 2,000, Uku write 200.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import sandbox_home

from trigon_sync import clock
from trigon_sync.cli import connections
from trigon_sync.http.url_path import api_path
from trigon_sync.monthly import run as monthly
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    FaultConfig,
    SandboxWorld,
    generate_seed,
    run_sandbox,
)
from trigon_sync.sandbox.behaviour import CONTRACT
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.settings import fields
from trigon_sync.store import atomic
from trigon_sync.store.config_file import load_config
from trigon_sync.store.secrets import open_store

TODAY = dt.date(2024, 10, 31)
START, END = dt.date(2024, 10, 1), dt.date(2024, 10, 31)
PRODUCTION = {"trigon_limit": 600, "uku_read_limit": 600, "uku_write_limit": 30, "window": 60.0}
FAST = {"trigon_limit": 2000, "uku_read_limit": 2000, "uku_write_limit": 200, "window": 10.0}
UKU_BEHAVIOUR = CONTRACT.updated({"epoch_rate_reset": True})


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


def floor_seconds(needed: int, limit: int, window: float) -> float:
    """The least wall time ``needed`` requests take at ``limit`` per fixed window."""
    return max(0, math.ceil(needed / limit) - 1) * window


class Peer:
    """The plain sequential client: what a 60-line script would do, one request at a time."""

    def __init__(self, trigon_url: str, uku_url: str) -> None:
        self.trigon = httpx.Client(base_url=trigon_url, timeout=30)
        self.uku = httpx.Client(
            base_url=uku_url,
            timeout=30,
            headers={"X-API-Key": SANDBOX_UKU_KEY, "X-Uku-Company": SANDBOX_COMPANY},
        )
        self.rate_limited = 0
        self._login()

    def _login(self) -> None:
        body = self.trigon.post(
            "/auth/login", json={"email": SANDBOX_EMAIL, "password": SANDBOX_PASSWORD}
        ).json()
        self.trigon.headers["Authorization"] = f"Bearer {body['access_token']}"

    def _send(self, client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
        while True:
            response = client.request(method, path, **kw)
            if response.status_code == 429:
                self.rate_limited += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code == 401 and client is self.trigon:
                self._login()
                continue
            response.raise_for_status()
            return response.json()

    def run(self, clients: list[tuple[str, int]]) -> None:
        topic = self._send(self.uku, "GET", "/topics")["data"][0]["id"]
        listed = self._send(self.uku, "GET", "/custom-fields", params={"limit": 200})["data"]
        by_name = {f["name"]: f["id"] for f in listed}
        ids = [by_name[name] for name in COUNT_FIELD_NAMES]
        for firm_id, client_id in clients:
            values = []
            for field in fields.FIELDS:
                if field.kind == "period":
                    params = {f"{field.event}_from": str(START), f"{field.event}_to": str(END)}
                else:
                    params = {str(field.snapshot_param): str(END)}
                path = api_path("firms", firm_id, field.collection, "count")
                values.append(self._send(self.trigon, "GET", path, params=params)["data"]["count"])
            task = {
                "title": "Monthly summary 2024-10",
                "client_id": client_id,
                "topic_id": topic,
                "date": str(END),
                "status": "new",
                "custom_fields": [
                    {"field_id": i, "value": v} for i, v in zip(ids, values, strict=True)
                ],
            }
            self._send(self.uku, "POST", "/tasks", json=task)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--fast", action="store_true", help="limits per 10 s, for a quick look")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=monthly.DEFAULT_WORKERS)
    parser.add_argument("--no-peer", action="store_true", help="skip the sequential client")
    args = parser.parse_args()
    limits = FAST if args.fast else PRODUCTION
    window = limits["window"]

    seed = generate_seed(args.clients, seed=1, no_view=0)
    faults = FaultConfig(
        latency_ms=args.latency_ms,
        trigon_limit=int(limits["trigon_limit"]),
        uku_read_limit=int(limits["uku_read_limit"]),
        uku_write_limit=int(limits["uku_write_limit"]),
        window_seconds=window,
        exempt_paths=("/v1/auth/",),
    )
    print(
        f"run-monthly benchmark: {args.clients} clients x {len(fields.KEYS)} fields, "
        f"{args.latency_ms:g} ms latency, {args.workers} workers; limits per {window:g} s: "
        f"Trigon {limits['trigon_limit']}, Uku read {limits['uku_read_limit']}, "
        f"Uku write {limits['uku_write_limit']} (reset as an epoch second)"
    )
    world = SandboxWorld(seed)
    with (
        tempfile.TemporaryDirectory(prefix="monthly-bench-") as tmp,
        run_sandbox(world, faults=faults, uku_behaviour=UKU_BEHAVIOUR) as running,
    ):
        _home, linked = sandbox_home(tmp, world, running)
        config = load_config()
        store = open_store("file")
        world.clear_logs()
        running.set_faults(**{})  # fresh rate windows: the set-up used none of the budget
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
        requests = world.requests("trigon") + world.requests("uku")
        tiers = {"trigon": len(world.requests("trigon")), "read": 0, "write": 0}
        for entry in world.requests("uku"):
            tiers[entry["tier"] or "read"] += 1
        rejected = sum(1 for r in requests if r["status"] == 429)

    peer_wall = peer_429 = None
    if not args.no_peer:
        fresh = SandboxWorld(seed)
        with run_sandbox(fresh, faults=faults, uku_behaviour=UKU_BEHAVIOUR) as running:
            with fresh.lock:
                pairs = [
                    (firm.id, fresh.uku.create_client({"name": firm.name})[0]["id"])
                    for firm in fresh.seed.trigon.firms
                ]
            running.set_faults(**{})
            peer = Peer(running.trigon_url, running.uku_url)
            started = time.perf_counter()
            peer.run(pairs)
            peer_wall = time.perf_counter() - started
            peer_429 = peer.rate_limited

    created = result.count("created")
    needed = {"trigon": linked * len(fields.KEYS), "write": created}
    bucket_limit = {"trigon": limits["trigon_limit"], "write": limits["uku_write_limit"]}
    floors = {k: floor_seconds(n, int(bucket_limit[k]), window) for k, n in needed.items()}
    floor = max(floors.values())
    period = result.periods[0]
    print(
        f"tasks created {created}, failed {len(result.failed)}, period complete: {period.complete}"
    )
    for tier in ("trigon", "read", "write"):
        line = f"  {tier:<7} {tiers[tier]:>6} requests sent"
        if tier in needed:
            line += f", {needed[tier]:>6} needed -> floor {floors[tier]:>7.2f} s"
        print(line)
    print(f"  429 answers to the tool: {rejected}")
    uku_requests = tiers["read"] + tiers["write"]
    print(
        f"requests per client: {len(requests) / linked:.2f} "
        f"(Trigon {tiers['trigon'] / linked:.2f}, Uku {uku_requests / linked:.2f})"
    )
    print(f"state.toml writes {written.writes}, bytes written {written.bytes}")
    print(f"floor ((ceil(needed / limit) - 1) x window, slowest bucket): {floor:.2f} s")
    print(f"tool wall time: {wall:.2f} s")
    if floor:
        print(f"ratio tool / floor: {wall / floor:.4f} (goal <= 1.01)")
    if peer_wall is not None:
        print(f"sequential peer wall time: {peer_wall:.2f} s ({peer_429} 429 answers)")
        print(f"ratio tool / peer: {wall / peer_wall:.4f} (goal <= 1.00)")


if __name__ == "__main__":
    main()
