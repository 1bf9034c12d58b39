"""How fast is the Business Register check on a full-size file?

Writes a ~373,000-row register zip to a temporary directory, then prints:
the time to write it, a bare ``csv`` pass over the same file (the floor for any
parser), the first load (parse + index + cache write), the second load (from the
cache: what every later ``import-clients`` pays) and 2,000 lookups.

    .venv/bin/python benchmarks/register_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from trigon_sync.business_register.file_format import REGISTER_CSV_NAME, REGISTER_ZIP_NAME
from trigon_sync.business_register.index import RegisterIndex
from trigon_sync.sandbox.register_file import write_full_size_register

T = TypeVar("T")


def timed(label: str, work: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    print(f"{label:<42} {elapsed * 1000:>10.1f} ms")
    return result, elapsed


def bare_csv_pass(path: Path) -> int:
    """Read every row with zipfile + csv and do nothing with it."""
    with zipfile.ZipFile(path) as archive, archive.open(REGISTER_CSV_NAME) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        return sum(1 for _ in csv.reader(text, delimiter=";"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=373_000, help="companies to generate")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="register-bench-") as tmp:
        directory = Path(tmp)
        # Keep the benchmark's cache out of the user's real home directory.
        os.environ["TRIGON_SYNC_HOME"] = str(directory / "home")
        path = directory / REGISTER_ZIP_NAME
        print(f"Business Register benchmark, {args.rows:,} rows, in {directory}")
        timed("write full-size zip", lambda: write_full_size_register(path, n_rows=args.rows))
        print(f"{'  zip size':<42} {path.stat().st_size / 1e6:>10.1f} MB")
        rows, bare = timed("bare csv pass (floor)", lambda: bare_csv_pass(path))
        first, build = timed("first load: parse + index + cache", lambda: RegisterIndex.load(path))
        second, cached = timed("second load: from cache", lambda: RegisterIndex.load(path))
        if first.from_cache or not second.from_cache or len(second) != rows - 1:
            raise SystemExit("the cache was not used as expected or rows were lost")

        rng = random.Random(0)
        present = [entry.code for entry in second]
        codes = [rng.choice(present) if i % 2 else f"{rng.randrange(10**8):08d}"
                 for i in range(2000)]  # fmt: skip
        hits, _ = timed(
            "2,000 lookups (half present)",
            lambda: sum(second.lookup(code) is not None for code in codes),
        )
        print(f"{'  found':<42} {hits:>10,}")
        print(f"{'first load / bare csv pass':<42} {build / bare:>10.2f} x")
        print(f"{'second load speed-up over first':<42} {build / cached:>10.0f} x")
        peak = first_load_peak(path)
        print(f"{'peak memory of a first load (own process)':<42} {peak:>10.1f} MB")


def first_load_peak(path: Path) -> float:
    """Peak RSS of a fresh process that does only what a first import-clients does with the
    register (parse, index, write the cache), so the benchmark's own generator is not in it."""
    code = (
        "import resource, sys, tempfile\n"
        "from pathlib import Path\n"
        "from trigon_sync.business_register.index import RegisterIndex\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    RegisterIndex.load(Path(sys.argv[1]), cache_dir=Path(d))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip()) / 1024


if __name__ == "__main__":
    main()
