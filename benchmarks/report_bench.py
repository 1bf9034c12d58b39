"""How fast is ``report`` over years of history? 5,000 clients x 24 periods in the ledger.

Writes a ledger as the monthly run would (one line per client and period, all 14 fields,
through ``LedgerWriter``'s line format but without an fsync per line), then times, in a
fresh process each (what a user waits for): ``report --format csv`` and ``--format json``
over all 24 periods, the default one-period terminal table, ``status --json`` (which
checks the newest period for anomalies), and in-process the parse alone. Goal: about 1 s.

    .venv/bin/python benchmarks/report_bench.py [--clients 5000] [--periods 24] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ledger_into_database, times_header, times_row, write_ledger

from trigon_sync.store import ledger


def timed(argv: list[str], runs: int) -> list[float]:
    """Wall seconds per child; status exits 3 here (no config.toml), report must exit 0."""
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False)
        out.append(time.perf_counter() - started)
        if done.returncode not in (0, 3) or not done.stdout:
            raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        home = Path(tmp)
        os.environ["TRIGON_SYNC_HOME"] = str(home)
        labels = write_ledger(home / "ledger.jsonl", args.clients, args.periods)
        size = (home / "ledger.jsonl").stat().st_size
        started = time.perf_counter()
        ledger_into_database()
        moved = time.perf_counter() - started
        print(
            f"ledger: {args.clients} clients x {args.periods} periods = "
            f"{args.clients * args.periods} lines, {size / 1e6:.1f} MB as ledger.jsonl, "
            f"moved into records.sqlite3 in {moved:.1f} s"
        )
        started = time.perf_counter()
        book = ledger.load()
        parsed = time.perf_counter() - started
        print(f"parse alone (in-process): {parsed:.2f} s for {len(book.writes)} writes\n")
        script = str(Path(sys.executable).with_name("trigon-sync"))
        span = ["--from", labels[0], "--to", labels[-1]]
        whole = f"report {labels[0]}..{labels[-1]}"
        cases = {
            f"{whole} --format csv": [script, "report", *span, "-f", "csv"],
            f"{whole} --format json": [
                script, "report", *span, "-f", "json",
            ],
            "report (newest period, terminal table)": [script, "report"],
            "status --json (newest period's anomalies)": [script, "status", "--json"],
        }  # fmt: skip
        width = max(len(name) for name in cases)
        times_header("seconds", width)
        for name, command in cases.items():
            times_row(name, timed(command, args.runs), width)


if __name__ == "__main__":
    main()
