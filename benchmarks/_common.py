"""What the benchmark scripts share: a throwaway home set up as a real one, and timing rows.

Every benchmark points ``TRIGON_SYNC_HOME`` at a temporary directory first, so a run can
never read or overwrite the user's real config, state or tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import subprocess
import time
from pathlib import Path

from trigon_sync import clock
from trigon_sync.cli import connections
from trigon_sync.dates import add_months, format_period
from trigon_sync.records.tables import CompletedPeriod
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    SandboxWorld,
)
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.sandbox.runner import Running
from trigon_sync.schedule.rules import Run
from trigon_sync.settings import fields
from trigon_sync.store import ledger
from trigon_sync.store.secrets import TRIGON_REFRESH_TOKEN, UKU_API_KEY, Secret, open_store
from trigon_sync.store.state import ClientLink, locked_state
from trigon_sync.trigon import login


def write_config(home: Path, trigon_url: str, uku_url: str) -> None:
    mapping = "\n".join(
        f'{key} = "{name}"' for key, name in zip(fields.KEYS, COUNT_FIELD_NAMES, strict=True)
    )
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[trigon]\nbase_url = "{trigon_url}"\nemail = "{SANDBOX_EMAIL}"\ntoken_store = "file"\n\n'
        f'[uku]\nbase_url = "{uku_url}"\ncompany = "{SANDBOX_COMPANY}"\n\n'
        '[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
        'first_import_date = 2024-10-01\nschedule = "last_calendar_day"\n\n'
        f"[fields]\n{mapping}\n",
        encoding="utf-8",
    )


def link_everything(world: SandboxWorld) -> int:
    """What import-clients + confirm would leave behind: one Uku client per firm, linked."""
    with world.lock:
        made = [
            (
                firm,
                world.uku.create_client(
                    {"name": firm.name, "registration_code": firm.registration_code}
                )[0],
            )
            for firm in world.seed.trigon.firms
        ]
    with locked_state() as session:
        for firm, client in made:
            session.state.links[firm.id] = ClientLink(
                firm.id, firm.registration_code or "", firm.name, client["id"], dt.date(2024, 9, 1)
            )
        session.save()
    return len(made)


def sandbox_home(tmp: str, world: SandboxWorld, running: Running) -> tuple[Path, int]:
    """A home in ``tmp`` ready for run-monthly against the running sandbox.

    Config with all 14 fields, a real Trigon login and the Uku key in the file store,
    every firm linked. Returns the home and how many firms it links.
    """
    home = Path(tmp) / "home"
    os.environ["TRIGON_SYNC_HOME"] = str(home)  # never the user's real home
    write_config(home, running.trigon_url, running.uku_url)
    store = open_store("file")
    wire = connections.trigon_wire(running.trigon_url)
    store.set(TRIGON_REFRESH_TOKEN, login(wire, SANDBOX_EMAIL, SANDBOX_PASSWORD).refresh)
    wire.close()
    store.set(UKU_API_KEY, Secret(SANDBOX_UKU_KEY))
    return home, link_everything(world)


def offline_home(tmp: str) -> Path:
    """A home in ``tmp`` with config and one linked client, its URLs on a closed port.

    For start-up timings: whatever the command does, it must not need a server.
    """
    home = Path(tmp) / "home"
    os.environ["TRIGON_SYNC_HOME"] = str(home)  # never the user's real home
    write_config(home, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/api/v3")
    with locked_state() as session:
        session.state.links["F1"] = ClientLink("F1", "10137319", "Firm", 1, dt.date(2024, 9, 1))
        session.save()
    return home


# The launcher: spawns one command, waits for it with wait4 and writes its ru_maxrss (KB).
# Linux carries the RSS a process had before ``exec`` into its ``ru_maxrss``, so the
# command is started by this small process, never by one that holds a sandbox world.
LAUNCHER = """
import json, os, sys
out, argv = sys.argv[1], sys.argv[2:]
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "kb": usage.ru_maxrss}, f)
"""


def child_times(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of ``runs`` child processes; a failing child ends the benchmark."""
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=False)
        out.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()}")
    return out


def times_header(label: str, width: int) -> None:
    print(f"{label:<{width}} {'best':>6} {'median':>7} {'worst':>6}")


def times_row(name: str, times: list[float], width: int) -> None:
    print(f"{name:<{width}} {min(times):>6.3f} {statistics.median(times):>7.3f} {max(times):>6.3f}")


LEVELS = (0, 0, 1, 2, 3, 5, 8, 13, 20, 40, 100, 250)
"""Each client's usual level per field; a month varies from half to one and a half of it."""


def write_ledger(
    path: Path, clients: int, periods: int, first: tuple[int, int] = (2023, 1)
) -> list[str]:
    """A ledger like an office's: steady clients of every size, 1% dropping to zero for the
    last three months and 1% with one month at 20x, one mapping line."""
    rng = random.Random(16)
    mapping = tuple(zip(fields.KEYS, COUNT_FIELD_NAMES, strict=True))
    fid = ledger.fields_id(mapping)
    labels = [format_period(add_months(first, n)) for n in range(periods)]
    at = dt.datetime(2024, 12, 31, 0, 30, tzinfo=dt.UTC).isoformat()
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"fields": {"id": fid, "map": [list(p) for p in mapping]}}) + "\n")
        levels = [[rng.choice(LEVELS) for _ in mapping] for _ in range(clients)]
        for index, period in enumerate(labels):
            for n in range(clients):
                counts = [rng.randint(level // 2, level + level // 2) for level in levels[n]]
                if n % 100 == 1 and index >= periods - 3:
                    counts = [0 for _ in counts]
                elif n % 100 == 2 and index == periods // 2:
                    counts = [c * 20 for c in counts]
                line = ["w", period, f"f{n}", f"1{n:07d}", f"Klient {n} OÜ", n, n, "create"]
                line += [fid, counts, at]
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return labels


def ledger_into_database() -> None:
    """Move a ledger.jsonl written by :func:`write_ledger` into records.sqlite3, as the
    first command of an upgraded home does (records_migration.py)."""
    with locked_state():
        pass


def aged_home(tmp: str, *, clients: int = 5000, years: int = 5) -> Path:
    """An offline home at production size: ``clients`` linked firms and ``years`` of
    monthly history up to last month (one completed period and two run records per
    month, and the ledger lines of every client and month), as the nightly no-op meets
    it after years of use: nothing is due today and nothing is overdue. Stored through
    the state module, as the real commands write it; a file token store with placeholder
    secrets, so ``status`` finds it set up."""
    home = offline_home(tmp)
    months = years * 12
    today = clock.today()
    start = dt.date(today.year - years, today.month, 1)
    with locked_state() as session:
        state = session.state
        state.links.clear()
        for n in range(clients):
            code = f"{10000000 + n}"
            state.links[f"F{n}"] = ClientLink(
                f"F{n}", code, f"Firm {n} OÜ", 1000 + n, start, ["no_email"] if n % 7 else []
            )
        completed = state.journal.completed
        year, month = start.year, start.month
        for index in range(months):
            first = dt.date(year, month, 1)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            end = dt.date(year, month, 1) - dt.timedelta(days=1)
            period = f"{first:%Y-%m}"
            at = dt.datetime.combine(end, dt.time(0, 30), tzinfo=clock.TALLINN)
            completed[period] = CompletedPeriod(
                run=Run(
                    import_day=end,
                    window_start=first,
                    window_end=end - dt.timedelta(days=1),
                    period=period,
                ),
                completed_at=at.isoformat(timespec="seconds"),
                totals={"created": clients, "updated": 0},
            )
            failures = [
                {"firm": f"F{k}", "name": f"Firm {k} OÜ", "reason": "Uku answered 503"}
                for k in range((index + 1) % 4)
            ]
            state.record(
                at, "run-monthly", "partial" if failures else "ok", today=end,
                periods=[period], complete=[period], clients_ok=clients - len(failures),
                clients_failed=len(failures), failures=failures or None,
                tasks_created=clients - len(failures), tasks_updated=0,
                duration_seconds=420.5,
            )  # fmt: skip
            state.record(at, "import-clients", "ok", created=index % 3, matched=clients)
            state.complete_window(end - dt.timedelta(days=1), period)
        session.save()
    write_ledger(home / "ledger.jsonl", clients, months, (start.year, start.month))
    ledger_into_database()
    store = open_store("file")
    store.set(TRIGON_REFRESH_TOKEN, Secret("bench-refresh-token"))
    store.set(UKU_API_KEY, Secret("bench-api-key"))
    return home
