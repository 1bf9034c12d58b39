"""The operator's whole flow as child processes of ``trigon-sync`` against a socket sandbox.

Every step is a real ``python -m trigon_sync`` process with ``--token-store file`` and the
test's TRIGON_SYNC_HOME, so what is proven is what cron would run. Expected Uku tasks are
re-derived from the seed JSON (``tests/api/monthly_env.expected_counts``), never from the
sandbox's own counting.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tomllib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from tests.api.monthly_env import expected_counts, task_counts
from trigon_sync.http.session import ENV_RETRY_DELAY
from trigon_sync.sandbox import FaultConfig, Running, generate_seed, run_sandbox
from trigon_sync.sandbox.behaviour import CONTRACT, PRODUCTION_LIKE, UkuBehaviour
from trigon_sync.sandbox.generator import DEFAULT_ANOMALIES
from trigon_sync.sandbox.register_file import write_register_zip
from trigon_sync.settings import fields
from trigon_sync.store import paths
from trigon_sync.store.state import load_state

FIRMS = 12
"""The flows' world: every import trouble case of a 24-firm seed (duplicate code, bad check
digit, missing from the register, already in Uku), but half the plain firms. The flows prove
order, idempotency and secrecy, not volume; each firm costs every run-monthly ~15 Trigon
requests, and under faults those requests' lost answers are what the flows wait on."""
# Each import day (schedule last_calendar_day from 01.10.2024) and the window it counts.
MONTHS: tuple[tuple[dt.date, dt.date, dt.date, str], ...] = (
    (dt.date(2024, 10, 31), dt.date(2024, 10, 1), dt.date(2024, 10, 30), "2024-10"),
    (dt.date(2024, 11, 30), dt.date(2024, 10, 31), dt.date(2024, 11, 29), "2024-11"),
    (dt.date(2024, 12, 31), dt.date(2024, 11, 30), dt.date(2024, 12, 30), "2024-12"),
)
NO_LIMITS = FaultConfig(trigon_limit=100_000, uku_read_limit=100_000, uku_write_limit=100_000)
HTTP_TIMEOUT = "0.5"  # TRIGON_SYNC_HTTP_TIMEOUT for the children: a timeout costs 0.5 s
RETRY_DELAY = "0.05"
"""TRIGON_SYNC_RETRY_DELAY for the children: the same retries, 0.05 s apart instead of 0.5 s
(at the default, a third of each run-monthly under faults was backing off)."""
PROFILES = {
    "contract": CONTRACT,
    # the real Uku's quirks, with a list lag short enough for a test on a real clock
    "production-like": PRODUCTION_LIKE.updated({"list_lag_seconds": 0.3}),
}
SETTLE_SECONDS = 1.0
"""[uku] settle_seconds for the children. The wait is measured from the failure, and the
sandbox commits a write before it answers (a ``timeout`` fault commits, then answers late),
so only a request the loaded test server has not yet handled when the client gives up
(HTTP_TIMEOUT) can commit after it: 1 s covers the 0.3 s list lag plus 0.7 s more of such
a queue (1.2 s after the send). Every lost answer costs this wait on the real clock: the
flows' time is mostly these waits (7 in one confirm under faults)."""


def chaos_seeds() -> list[int]:
    """Fault seeds to run: 1 in CI, ``TRIGON_SYNC_CHAOS_SEEDS=N`` runs N locally."""
    return list(range(1, int(os.environ.get("TRIGON_SYNC_CHAOS_SEEDS", "1")) + 1))


def faults(seed: int, **changes: Any) -> FaultConfig:
    """The issue's bad day: 5% 5xx, 5% 429, 2% drops, 1% timeouts; auth exempt (see docs)."""
    return NO_LIMITS.updated(
        {
            "seed": seed,
            "error_rate": 0.05,
            "rate_limit_burst_rate": 0.05,
            "drop_rate": 0.02,
            "timeout_rate": 0.01,
            "retry_after_seconds": 0,
            "slow_seconds": 0.8,
            "exempt_paths": ("/v1/auth/",),
            **changes,
        }
    )


@dataclass
class Flow:
    """A sandbox, its seed, a home directory and a way to run the CLI in it."""

    running: Running
    seed: dict[str, Any]
    home: Path
    register_zip: Path
    mode: str = "password"
    """How `connect` reaches Trigon: ``password`` or ``api-key`` (ID token + API key)."""

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env[paths.ENV_HOME] = str(self.home)
        env["TRIGON_SYNC_HTTP_TIMEOUT"] = HTTP_TIMEOUT
        env[ENV_RETRY_DELAY] = RETRY_DELAY
        env.pop("PYTHON_KEYRING_BACKEND", None)
        return env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "trigon_sync", *args]

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def ok(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, f"{args[0]} exited {done.returncode}: {done.stderr}"
        return done

    # -- the steps ----------------------------------------------------------------------

    def connect(self) -> None:
        creds = self.running.world.credentials()
        admin = creds["trigon_users"][0]
        if self.mode == "api-key":
            key = next(k for k in creds["trigon_api_keys"] if k["environment"] == "production")
            self.ok(
                "connect", "--mode", "api-key", "--credentials-stdin",
                "--trigon-url", self.running.trigon_url, "--token-store", "file",
                stdin=f"{key['id_token']}\n{key['api_key']}\n",
            )  # fmt: skip
        else:
            self.ok(
                "connect", "--email", admin["email"], "--password-stdin",
                "--trigon-url", self.running.trigon_url, "--token-store", "file",
                stdin=admin["password"] + "\n",
            )  # fmt: skip
        self.ok(
            "connect-uku", "--key-stdin", "--company", creds["uku_company"],
            "--uku-url", self.running.uku_url, "--token-store", "file",
            stdin=creds["uku_api_key"] + "\n",
        )  # fmt: skip
        config = self.home / "config.toml"
        doc = tomllib.loads(config.read_text(encoding="utf-8"))
        doc.setdefault("uku", {})["settle_seconds"] = SETTLE_SECONDS
        config.write_text(tomli_w.dumps(doc), encoding="utf-8")

    def import_clients(self) -> None:
        self.ok("import-clients", "--register", str(self.register_zip))

    def map_fields(self) -> None:
        mapping = [arg for f in fields.FIELDS for arg in ("--set", f"{f.key}={f.label_en}")]
        self.ok(
            "map-fields", "--title", "Monthly summary {period}", "--topic", "Bookkeeping",
            "--schedule", "last_calendar_day", "--first-import-date", "01.10.2024", *mapping,
        )  # fmt: skip

    def setup(self) -> None:
        """connect, import-clients, confirm --yes, map-fields: ready for run-monthly."""
        self.connect()
        self.import_clients()
        self.ok("confirm", "--yes")
        self.map_fields()

    def run_month(self, index: int) -> subprocess.CompletedProcess[str]:
        return self.run("run-monthly", "--today", MONTHS[index][0].strftime("%d.%m.%Y"))

    # -- what Uku holds -----------------------------------------------------------------

    def uku(self) -> dict[str, Any]:
        return self.running.world.uku_state()

    def assert_clients_once(self) -> None:
        """Every registration code is one Uku client; every link points at one of them."""
        clients = self.uku()["clients"]
        codes = Counter(c["registration_code"] for c in clients if c["registration_code"])
        assert max(codes.values()) == 1, [c for c, n in codes.items() if n > 1]
        ids = {c["id"] for c in clients}
        links = load_state().links
        assert links and all(link.uku_client_id in ids for link in links.values())

    def assert_tasks(self, months: int) -> None:
        """Exactly one task per linked client per period, with the seed's counts."""
        state = load_state()
        firm_of = {link.uku_client_id: firm for firm, link in state.links.items()}
        tasks = self.uku()["tasks"]
        per = Counter((t["client_id"], t["title"]) for t in tasks)
        wanted = Counter(
            (client, f"Monthly summary {period}")
            for client in firm_of
            for _today, _start, _end, period in MONTHS[:months]
        )
        assert per == wanted, dict(per - wanted) or dict(wanted - per)
        window = {period: (start, end) for _t, start, end, period in MONTHS}
        for task in tasks:
            start, end = window[task["title"].removeprefix("Monthly summary ")]
            expected = expected_counts(self.seed, firm_of[task["client_id"]], start, end)
            assert task_counts(task) == expected, task["title"]
        assert state.last_period_end == MONTHS[months - 1][2]


def make_seed(n_firms: int = FIRMS, seed: int = 11, *, anomalies: bool = False) -> dict[str, Any]:
    """A seed, every firm viewable (so connect exits 0); ``anomalies``: the import's trouble
    cases at their 20-firm-and-up counts even in a smaller world (otherwise from 20 firms)."""
    knobs: dict[str, Any] = dict(DEFAULT_ANOMALIES) if anomalies else {}
    return generate_seed(n_firms, seed=seed, **{**knobs, "no_view": 0}, records_scale=0.3)


@contextmanager
def flow(
    home: Path,
    seed: dict[str, Any] | None = None,
    *,
    faults: FaultConfig = NO_LIMITS,
    trigon_faults: FaultConfig | None = None,
    uku_faults: FaultConfig | None = None,
    uku_behaviour: UkuBehaviour = CONTRACT,
    mode: str = "password",
) -> Iterator[Flow]:
    """A served sandbox and a fresh home for the CLI children (``mode``: how to connect)."""
    seed = seed or make_seed(anomalies=True)
    register_zip = home.parent / "register.csv.zip"
    write_register_zip(seed["register"], register_zip)
    with run_sandbox(
        seed,
        faults=faults,
        trigon_faults=trigon_faults,
        uku_faults=uku_faults,
        uku_behaviour=uku_behaviour,
    ) as running:
        yield Flow(running, seed, home, register_zip, mode)


def secrets_of(running: Running) -> list[str]:
    """Every token the sandbox ever issued, the Uku key, Trigon passwords and API keys."""
    world = running.world
    creds = world.credentials()
    with world.lock:
        tokens = [*world.trigon.access_tokens, *world.trigon.refresh_tokens]
    return [
        *tokens,
        creds["uku_api_key"],
        *(u["password"] for u in creds["trigon_users"]),
        *(k[part] for k in creds["trigon_api_keys"] for part in ("id_token", "api_key")),
    ]


def files_under(root: Path, skip: Sequence[Path] = ()) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path not in skip:
            yield path
