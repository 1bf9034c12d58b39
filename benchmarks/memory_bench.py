"""Peak memory of every command at 5,000 clients and five years of history (goal < 100 MB).

Builds a home as five years of monthly runs would have left it (60 periods, 2019-10 ..
2024-09): state.toml with the links, every completed period's window and one run record
per night (some with failed clients), one archived journal per period
(``journal/<period>.jsonl.done``, a line per client) and the ledger (a write per client
and period, 14 fields), written in the file formats of the versions before the records
database, so that the first command that writes moves them into ``records.sqlite3``
(records_migration.py; the time it takes is printed). The sandbox (Trigon + Uku on
127.0.0.1, free ports, in this process) is seeded with the same firms, 2% of them not
imported yet, so ``import-clients`` and ``confirm`` have real work; a full-size Business
Register file (373,000 rows, the seed's firms in it) is given to ``import-clients``, whose
first load writes the register cache.

Then every user-facing command runs in a process of its own, in the order a month
would see them (read-only commands on the five-year home, import and confirm, the monthly
run's dry run, real run, no-op and re-count, then the commands again on the new period),
and its peak RSS is printed: ``ru_maxrss`` from ``os.wait4``. The command is started by a
small launcher process, not by this one: Linux carries the RSS a process had before
``exec`` into its ``ru_maxrss``, and this process holds the sandbox world (the launcher's
own few MB are printed as the floor). Only the tool's process is measured, never the
sandbox's.

    .venv/bin/python benchmarks/memory_bench.py            # 5,000 clients, 5 years (~12 min)
    .venv/bin/python benchmarks/memory_bench.py --small    # 500 clients: a quick look (~1 min)
    .venv/bin/python benchmarks/memory_bench.py --keep /tmp/mem-home   # keep home and outputs

No latency and limits far above the work (the pacer still reads the headers): limits decide
a run's time, not its memory (monthly_bench.py measures them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _common import LAUNCHER, write_config

from trigon_sync.cli import connections
from trigon_sync.dates import add_months, format_period
from trigon_sync.records import periods as period_record
from trigon_sync.sandbox import (
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    FaultConfig,
    SandboxWorld,
    generate_seed,
    run_sandbox,
)
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.sandbox.register_file import write_full_size_register
from trigon_sync.sandbox.runner import Running
from trigon_sync.schedule.rules import Run
from trigon_sync.settings import fields
from trigon_sync.store import ledger, paths
from trigon_sync.store.secrets import TRIGON_REFRESH_TOKEN, UKU_API_KEY, Secret, open_store
from trigon_sync.store.state import ClientLink, locked_state
from trigon_sync.trigon import login

LIMIT_MB = 100.0
FIRST_PERIOD = (2019, 10)
"""Five years of history end with 2024-09; the run measured counts 2024-10."""
NO_LIMITS = FaultConfig(trigon_limit=10**7, uku_read_limit=10**7, uku_write_limit=10**7)
LEVELS = (0, 0, 1, 2, 3, 5, 8, 13, 20, 40, 100, 250)


@dataclass(frozen=True)
class Measured:
    name: str
    rc: int
    peak_mb: float
    seconds: float


def month_runs(periods: int) -> list[Run]:
    """The calendar-month windows of ``periods`` months from 2019-10 (import: last day)."""
    runs = []
    for n in range(periods):
        year, month = add_months(FIRST_PERIOD, n)
        start = dt.date(year, month, 1)
        nxt = add_months((year, month), 1)
        end = dt.date(nxt[0], nxt[1], 1) - dt.timedelta(days=1)
        runs.append(
            Run(
                import_day=end, window_start=start, window_end=end, period=f"{year:04d}-{month:02d}"
            )
        )
    return runs


def build_home(
    tmp: Path, world: SandboxWorld, running: Running, periods: int
) -> tuple[Path, list[ClientLink]]:
    """Config, tokens, links and ``periods`` months of records, as real runs leave them."""
    home = tmp / "home"
    os.environ["TRIGON_SYNC_HOME"] = str(home)  # never the user's real home
    write_config(home, running.trigon_url, running.uku_url)
    config = home / "config.toml"
    config.write_text(
        config.read_text().replace(
            "first_import_date = 2024-10-01", "first_import_date = 2019-10-01"
        )
    )
    store = open_store("file")
    wire = connections.trigon_wire(running.trigon_url)
    store.set(TRIGON_REFRESH_TOKEN, login(wire, SANDBOX_EMAIL, SANDBOX_PASSWORD).refresh)
    wire.close()
    store.set(UKU_API_KEY, Secret(SANDBOX_UKU_KEY))

    firms = list(world.seed.trigon.firms)
    imported = firms[: len(firms) - max(1, len(firms) // 50)]  # the rest: import-clients' work
    with world.lock:
        made = [
            (
                firm,
                world.uku.create_client(
                    {"name": firm.name, "registration_code": firm.registration_code}
                )[0],
            )
            for firm in imported
        ]
    links = [
        ClientLink(
            firm.id, firm.registration_code or "", firm.name, client["id"], dt.date(2019, 9, 1)
        )
        for firm, client in made
    ]
    runs = month_runs(periods)
    write_history_files(home, links, runs)
    started = time.perf_counter()
    with locked_state():  # the upgrade: every old record file into records.sqlite3
        pass
    print(f"old record files moved into records.sqlite3 in {time.perf_counter() - started:.1f} s")
    with locked_state() as session:
        state = session.state
        for link in links:
            state.links[link.trigon_id] = link
        state.record(
            dt.datetime(2019, 9, 2, 10, tzinfo=dt.UTC), "confirm", "ok", created=len(links)
        )
        for n, run in enumerate(runs):
            at = dt.datetime.combine(run.import_day, dt.time(21, 30), tzinfo=dt.UTC)
            common = {"today": run.import_day, "periods": [run.period], "duration_seconds": 700.0}
            if n % 6 == 3:  # twice a year a night with failed clients, finished the next night
                failed = links[n : n + 30]
                state.record(
                    at, "run-monthly", "partial", **common, complete=[],
                    clients_ok=len(links) - len(failed), clients_failed=len(failed),
                    failures=[
                        {"firm": x.trigon_id, "name": x.name,
                         "registration_code": x.registration_code,
                         "reason": "Trigon answered 503 three times"}
                        for x in failed
                    ],
                    tasks_created=len(links) - len(failed),
                )  # fmt: skip
                at += dt.timedelta(days=1)
            state.record(
                at, "run-monthly", "ok", **common, complete=[run.period],
                clients_ok=len(links), clients_failed=0, tasks_created=len(links),
            )  # fmt: skip
            period_record.mark_completed(
                state, run, at, clients=len(links), tasks_created=len(links), tasks_updated=0
            )
        session.save()
    return home, links


def write_history_files(home: Path, links: list[ClientLink], runs: list[Run]) -> None:
    """One archived journal per period and the ledger, in the formats the run writes."""
    rng = random.Random(17)
    mapping = tuple(zip(fields.KEYS, COUNT_FIELD_NAMES, strict=True))
    fid = ledger.fields_id(mapping)
    levels = [[rng.choice(LEVELS) for _ in mapping] for _ in links]
    paths.journal_dir().mkdir(parents=True, exist_ok=True)
    task = 1_000_000
    with paths.ledger_file().open("w", encoding="utf-8") as book:
        book.write(json.dumps({"fields": {"id": fid, "map": [list(p) for p in mapping]}}) + "\n")
        for run in runs:
            at = dt.datetime.combine(run.import_day, dt.time(21, 30), tzinfo=dt.UTC)
            # a home of the file-based versions: the first writing command migrates it
            path = paths.journal_dir() / f"{run.period}.jsonl.done"
            window = [run.window_start.isoformat(), run.window_end.isoformat()]
            with path.open("w", encoding="utf-8") as lines:
                for link, level in zip(links, levels, strict=True):
                    task += 1
                    counts = [rng.randint(x // 2, x + x // 2) for x in level]
                    named = dict(zip(fields.KEYS, counts, strict=True))
                    entry = {"firm": link.trigon_id, "client": link.uku_client_id, "task": task,
                             "action": "create", "counts": named,
                             "window": window, "at": at.isoformat(timespec="seconds")}  # fmt: skip
                    lines.write(json.dumps(entry, ensure_ascii=False) + "\n")
                    line = ["w", run.period, link.trigon_id, link.registration_code, link.name,
                            link.uku_client_id, task, "create", fid, counts,
                            at.isoformat(timespec="seconds")]  # fmt: skip
                    book.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")


def commands(
    links: list[ClientLink], spare: tuple[str, str], register: Path, out: Path, last: str
) -> Iterator[tuple[str, list[str], str]]:
    """(label, argv after ``trigon-sync``, stdin) in the order a month sees them."""
    code = links[len(links) // 2].registration_code
    first = format_period(FIRST_PERIOD)
    span = ["--from", first, "--to", last]
    reads = [
        ("--help", ["--help"]),
        ("status", ["status"]),
        ("status --json", ["status", "--json"]),
        ("doctor", ["doctor"]),
        ("doctor --json", ["doctor", "--json"]),
        ("history", ["history"]),
        ("history --all --limit 1000 --json", ["history", "--all", "--limit", "1000", "--json"]),
        ("explain CODE", ["explain", code]),
        ("explain CODE --json", ["explain", code, "--json"]),
        ("explain CODE --period 2022-05", ["explain", code, "--period", "2022-05"]),
        ("report (newest period)", ["report"]),
        (
            "report --period P --format csv",
            ["report", "--period", last, "-f", "csv", "-o", str(out / "p.csv")],
        ),
        ("report (5 years, table)", ["report", *span]),
        (
            "report (5 years) --format csv",
            ["report", *span, "-f", "csv", "-o", str(out / "all.csv")],
        ),
        (
            "report (5 years) --format csv --no-totals",
            ["report", *span, "-f", "csv", "--no-totals", "-o", str(out / "nt.csv")],
        ),
        (
            "report (5 years) --format json",
            ["report", *span, "-f", "json", "-o", str(out / "all.json")],
        ),
        ("report (5 years) --chart", ["report", *span, "--chart"]),
        ("report (5 years) --client CODE", ["report", *span, "--client", code]),
        ("report --client CODE --chart", ["report", *span, "--client", code, "--chart"]),
        ("clients", ["clients"]),
        ("clients --json", ["clients", "--json"]),
        ("state show", ["state", "show"]),
        ("state show --json", ["state", "show", "--json"]),
        ("schedule --count 12", ["schedule", "--count", "12", "--today", "31.10.2024"]),
        ("config check", ["config", "check"]),
        ("map-fields --show", ["map-fields", "--show"]),
        ("map-fields --json", ["map-fields", "--json"]),
        (
            "map-fields --set (non-interactive)",
            [
                "map-fields",
                "--set",
                f"{fields.KEYS[0]}={COUNT_FIELD_NAMES[0]}",  # as mapped: a no-op change
                "--title",
                "Monthly summary {period}",
                "--topic",
                "Bookkeeping",
            ],
        ),
        ("connect --check", ["connect", "--check"]),
        (
            "connect (password on stdin)",
            ["connect", "--email", SANDBOX_EMAIL, "--password-stdin", "--token-store", "file"],
        ),
        ("connect-uku (key on stdin)", ["connect-uku", "--key-stdin"]),
    ]
    for label, argv in reads:
        stdin = ""
        if label.startswith("connect ("):
            stdin = SANDBOX_PASSWORD + "\n"
        elif label.startswith("connect-uku"):
            stdin = SANDBOX_UKU_KEY + "\n"
        yield label, argv, stdin
    reg = ["--register", str(register), "--no-register-download"]
    yield "import-clients (first register load)", ["import-clients", *reg], ""
    yield "import-clients (register cache)", ["import-clients", *reg], ""
    yield "import-clients --json", ["import-clients", *reg, "--json"], ""
    yield "register check CODE", ["register", "check", code, "--register", str(register)], ""
    yield "confirm --yes --skip CODE", ["confirm", "--yes", "--skip", spare[1]], ""
    yield "run-monthly --preview", ["run-monthly", "--preview", "--today", "20.10.2024"], ""
    yield (
        "run-monthly --dry-run (due day)",
        ["run-monthly", "--dry-run", "--today", "31.10.2024"],
        "",
    )
    yield "run-monthly (due day, real run)", ["run-monthly", "--quiet", "--today", "31.10.2024"], ""
    yield "run-monthly (nothing due)", ["run-monthly", "--quiet", "--today", "01.11.2024"], ""
    yield (
        "run-monthly --rerun 2024-10",
        ["run-monthly", "--quiet", "--rerun", "2024-10", "--today", "01.11.2024"],
        "",
    )
    after = [
        ("status (after)", ["status"]),
        ("status --json (after)", ["status", "--json"]),
        ("history (after)", ["history"]),
        ("explain CODE (after)", ["explain", code]),
        ("report (after)", ["report"]),
        (
            "accept CODE --period 2024-10 (not held: refused)",
            ["accept", code, "--period", "2024-10"],
        ),
        ("ignore FIRM (the firm confirm skipped)", ["ignore", spare[0]]),
        ("ignore FIRM --undo", ["ignore", spare[0], "--undo"]),
        ("unlink CODE --yes", ["unlink", links[2].registration_code, "--yes"]),
        (
            "state set-last-period-end --yes",
            ["state", "set-last-period-end", "31.10.2024", "--period", "2024-10", "--yes"],
        ),
        ("disconnect --all", ["disconnect", "--all"]),
    ]
    for label, argv in after:
        yield label, argv, ""


def measure(tool: str, label: str, argv: list[str], stdin: str, logs: Path, n: int) -> Measured:
    """Run one command under the launcher; its stdout/stderr go to ``logs``."""
    result = logs / f"{n:02d}.rusage.json"
    with (
        (logs / f"{n:02d}.out").open("wb") as out,
        (logs / f"{n:02d}.err").open("wb") as err,
    ):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(result), tool, *argv],
            input=stdin.encode(),
            stdout=out,
            stderr=err,
            check=True,
            env={**os.environ, "COLUMNS": "120"},
        )
        seconds = time.perf_counter() - started
    got = json.loads(result.read_text())
    (logs / f"{n:02d}.cmd").write_text(" ".join(["trigon-sync", *argv]) + "\n")
    return Measured(label, got["rc"], got["kb"] / 1024, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="500 clients: a quick look")
    parser.add_argument("--only", nargs="*", help="only commands whose label contains one of these")
    parser.add_argument("--keep", type=Path, help="copy the home and each command's output here")
    args = parser.parse_args()
    clients = 500 if args.small else args.clients
    tool = str(Path(sys.executable).with_name("trigon-sync"))
    started = time.perf_counter()
    seed = generate_seed(clients, seed=1, no_view=0, records_scale=0.2)
    world = SandboxWorld(seed)
    with (
        tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp_name,
        run_sandbox(world, faults=NO_LIMITS) as running,
    ):
        tmp = Path(tmp_name)
        home, links = build_home(tmp, world, running, 12 * args.years)
        register = tmp / "register.csv.zip"
        write_full_size_register(register, seed["register"])
        logs = tmp / "out"
        logs.mkdir()
        last = month_runs(12 * args.years)[-1].period
        [kept] = home.glob("migrated-*")
        sizes = {
            "state.toml": (home / "state.toml").stat().st_size,
            "records.sqlite3": paths.records_file().stat().st_size,
            "moved ledger.jsonl": (kept / "ledger.jsonl").stat().st_size,
            "moved journals": sum(p.stat().st_size for p in kept.glob("journal/*.done")),
        }
        print(
            f"{len(world.seed.trigon.firms)} firms, {len(links)} linked, {12 * args.years} periods "
            f"of history; "
            + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items())
            + f"; built in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        width = 44
        print(f"{'command':<{width}} {'exit':>4} {'peak MB':>8} {'wall s':>7}")
        over = []
        floor = measure(sys.executable, "python -c pass", ["-c", "pass"], "", logs, 99)
        spare = world.seed.trigon.firms[-1]
        listed = commands(
            links, (spare.id, spare.registration_code or spare.id), register, logs, last
        )
        for n, (label, argv, stdin) in enumerate(listed):
            if args.only and not any(word in label for word in args.only):
                continue
            m = measure(tool, label, argv, stdin, logs, n)
            flag = "  >= 100 MB" if m.peak_mb >= LIMIT_MB else ""
            print(
                f"{label:<{width}} {m.rc:>4} {m.peak_mb:>8.1f} {m.seconds:>7.1f}{flag}", flush=True
            )
            if flag:
                over.append(label)
        print(
            f"(python -c pass under the launcher: {floor.peak_mb:.1f} MB; goal < {LIMIT_MB:.0f} MB)"
        )
        print("over the goal: " + (", ".join(over) if over else "none"))
        if args.keep:
            shutil.copytree(
                tmp, args.keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.lock")
            )


if __name__ == "__main__":
    main()
