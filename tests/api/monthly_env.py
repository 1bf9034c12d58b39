"""Shared set-up for the monthly-run API tests: a sandbox world, linked clients, clients.

Counts are checked against :func:`expected_counts`, which re-derives them from the seed
records with the documented semantics (docs/trigon-api.md) — not with the sandbox's own
counting code — so a bug there cannot hide a bug in the run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from trigon_sync.http.pacer import RateLimitPacer
from trigon_sync.http.session import HttpSession, RetryPolicy, make_client
from trigon_sync.monthly.run import MonthlyResult, run_monthly
from trigon_sync.monthly.task_identity import TaskIdentity
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    SandboxWorld,
    SyncASGITransport,
    make_trigon_app,
    make_uku_app,
)
from trigon_sync.sandbox.behaviour import CONTRACT, UkuBehaviour
from trigon_sync.sandbox.faults import FaultConfig, ManualClock
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.schedule.rules import ScheduleRule
from trigon_sync.settings import fields
from trigon_sync.settings.config import Config, SummarySettings, TrigonSettings, UkuSettings
from trigon_sync.store import paths
from trigon_sync.store.backup import Backup, backup
from trigon_sync.store.installation import read as read_installation
from trigon_sync.store.secrets import FileStore
from trigon_sync.store.state import ClientLink, locked_state
from trigon_sync.trigon import TokenManager, TrigonClient, TrigonWire, login
from trigon_sync.uku import UkuClient
from trigon_sync.uku.adapter import task_from_json
from trigon_sync.uku.client import uku_tier

TRIGON_BASE = "http://trigon.test/v1"
UKU_BASE = "http://uku.test/api/v3"
TALLINN = ZoneInfo("Europe/Tallinn")
FIELD_NAME = dict(zip(fields.KEYS, COUNT_FIELD_NAMES, strict=True))
FIELD_ID = {key: 10 + k for k, key in enumerate(fields.KEYS)}
COLLECTION_TYPE = {
    "payments": "payment",
    "purchase-invoices": "purchase_invoice",
    "sales-invoices": "sales_invoice",
    "financial-entries": "financial_entry",
    "expense-lines": "expense_line",
    "depreciation-entries": "depreciation_entry",
}
UNLIMITED = FaultConfig(trigon_limit=100_000, uku_read_limit=100_000, uku_write_limit=100_000)


def bad_day(seed: int) -> FaultConfig:
    """10% of POSTs committed and then failed, plus ordinary 5xx/429 on everything."""
    return UNLIMITED.updated(
        {
            "seed": seed,
            "post_commit_fail_rate": 0.10,
            "error_rate": 0.03,
            "rate_limit_burst_rate": 0.03,
            "retry_after_seconds": 0,
            "exempt_paths": ("/v1/auth/",),
        }
    )


"""The pacer does not really sleep in these tests, so the sandbox must not really limit."""
NO_SLEEP: Callable[[float], None] = lambda _s: None  # noqa: E731


def make_config(
    *,
    first: dt.date = dt.date(2024, 10, 1),
    rule: ScheduleRule | None = None,
    keys: Iterable[str] = fields.KEYS,
    auto_complete: bool = False,
    topic: str | int = "Bookkeeping",
) -> Config:
    """Settings as map-fields would write them (built directly: sandbox URLs are not https)."""
    return Config(
        path=paths.config_file(),
        exists=True,
        trigon=TrigonSettings(base_url=TRIGON_BASE, email=SANDBOX_EMAIL, token_store="file"),
        uku=UkuSettings(base_url=UKU_BASE, company=SANDBOX_COMPANY),
        summary=SummarySettings(
            task_title="Monthly summary {period}",
            topic=topic,
            auto_complete=auto_complete,
            first_import_date=first,
            schedule=rule or ScheduleRule("last_calendar_day"),
        ),
        fields={key: FIELD_NAME[key] for key in keys},
    )


def link_firms(world: SandboxWorld, firm_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Create an Uku client per firm (as import-clients would) and record the links."""
    wanted = set(firm_ids) if firm_ids is not None else None
    made: dict[str, int] = {}
    with world.lock:
        for firm in world.seed.trigon.firms:
            if wanted is not None and firm.id not in wanted:
                continue
            client, _ = world.uku.create_client(
                {"name": firm.name, "registration_code": firm.registration_code}
            )
            made[firm.id] = client["id"]
    names = {f.id: f for f in world.seed.trigon.firms}
    with locked_state() as session:
        for firm_id, client_id in made.items():
            firm = names[firm_id]
            session.state.links[firm_id] = ClientLink(
                trigon_id=firm_id,
                registration_code=firm.registration_code or "",
                name=firm.name,
                uku_client_id=client_id,
                linked_at=dt.date(2024, 9, 30),
            )
        session.save()
    return made


def viewable_firms(seed: Mapping[str, Any]) -> list[str]:
    """Firm ids admin@firm.ee may read (the seed names the ones without View)."""
    denied = set(seed.get("anomalies", {}).get("no_view", ()))
    return [f["id"] for f in seed["trigon"]["firms"] if f["id"] not in denied]


@dataclass
class Env:
    """A world served in-process, clients connected to it, and a way to run the month."""

    world: SandboxWorld
    config: Config
    trigon: TrigonClient
    uku: UkuClient
    transports: list[SyncASGITransport] = field(default_factory=list)
    clock: ManualClock | None = None
    """The sandbox's clock; the run's waits move it instead of sleeping."""

    def sleep(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)

    def run(self, today: dt.date, **kwargs: Any) -> MonthlyResult:
        config = kwargs.pop("config", self.config)
        kwargs.setdefault("sleep", self.sleep)
        kwargs.setdefault("now", lambda: dt.datetime.now(tz=TALLINN))
        return run_monthly(config, self.trigon, self.uku, today=today, **kwargs)

    def with_config(self, **changes: Any) -> Config:
        self.config = replace(self.config, **changes)
        return self.config

    def tasks(self) -> list[dict[str, Any]]:
        return self.world.uku_state()["tasks"]

    def tasks_per_client_period(self) -> Counter[tuple[int, str]]:
        return Counter((t["client_id"], t["title"].rsplit(" ", 1)[-1]) for t in self.tasks())

    def task_writes(self) -> list[dict[str, Any]]:
        return [
            w
            for w in self.world.writes()
            if w["method"] in {"POST", "PATCH"} and w["path"].startswith("/api/v3/tasks")
        ]

    def close(self) -> None:
        self.trigon.close()
        self.uku.close()
        for transport in self.transports:
            transport.close()


def connect(
    world: SandboxWorld,
    config: Config,
    tmp: Path,
    *,
    faults: FaultConfig | None = None,
    timeout: float | None = None,
    transport_wrapper: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None,
    behaviour: UkuBehaviour = CONTRACT,
    uku_faults: FaultConfig | None = None,
) -> Env:
    """Log in to the in-process Trigon, and build both clients (no real sleeping).

    ``behaviour`` makes Uku show the real API's quirks; its list lag runs on a
    :class:`ManualClock` that the run's waits advance.
    """
    wrap = transport_wrapper or (lambda t: t)
    faults = faults or UNLIMITED
    clock = ManualClock()
    t_transport = SyncASGITransport(make_trigon_app(world, faults))
    u_transport = SyncASGITransport(make_uku_app(world, uku_faults or faults, clock, behaviour))
    policy = RetryPolicy(max_attempts=10, jitter=lambda: 0.0)
    t_session = HttpSession(
        make_client(TRIGON_BASE, transport=wrap(t_transport), timeout=timeout),
        service="Trigon",
        policy=policy,
        pacer=RateLimitPacer(sleep=NO_SLEEP),
        sleep=NO_SLEEP,
    )
    wire = TrigonWire(t_session)
    store = FileStore(tmp / "tokens.toml")
    tokens = TokenManager(wire, store, lock_path=tmp / "token.lock")
    tokens.adopt(login(wire, SANDBOX_EMAIL, SANDBOX_PASSWORD))
    u_session = HttpSession(
        make_client(UKU_BASE, transport=wrap(u_transport), timeout=timeout),
        service="Uku",
        policy=policy,
        pacer=RateLimitPacer(tier_of=uku_tier, sleep=NO_SLEEP),
        sleep=NO_SLEEP,
    )
    uku = UkuClient(u_session, api_key=SANDBOX_UKU_KEY, company=SANDBOX_COMPANY)
    return Env(world, config, TrigonClient(wire, tokens), uku, [t_transport, u_transport], clock)


# -- the independent count ----------------------------------------------------------------


def _local_day(stamp: str) -> dt.date:
    return dt.datetime.fromisoformat(stamp).astimezone(TALLINN).date()


def expected_counts(
    seed: Mapping[str, Any],
    firm: str,
    start: dt.date,
    end: dt.date,
    keys: Iterable[str] = fields.KEYS,
) -> dict[str, int]:
    """Counts of one firm's window straight from the seed JSON, per docs/trigon-api.md."""
    trigon = seed["trigon"]
    out: dict[str, int] = {}
    for key in keys:
        spec = fields.by_key(key)
        if spec.kind == "period":
            rtype = COLLECTION_TYPE[spec.collection]
            n = 0
            for r in trigon["records"]:
                if r["firm"] != firm or r["type"] != rtype:
                    continue
                created = dt.datetime.fromisoformat(r["created_at"])
                updated = dt.datetime.fromisoformat(r["updated_at"])
                if spec.event == "created":
                    n += start <= _local_day(r["created_at"]) <= end
                else:
                    n += updated > created and start <= _local_day(r["updated_at"]) <= end
            out[key] = n
        elif spec.collection == "reporting-persons":
            out[key] = sum(
                1
                for p in trigon["reporting_persons"]
                if p["firm"] == firm
                and dt.date.fromisoformat(p["active_from"]) <= end
                and (p["active_to"] is None or dt.date.fromisoformat(p["active_to"]) >= end)
            )
        else:
            out[key] = sum(
                1
                for a in trigon["fixed_assets"]
                if a["firm"] == firm
                and dt.date.fromisoformat(a["depreciation_start"])
                <= end
                <= dt.date.fromisoformat(a["depreciation_end"])
            )
    return out


def task_counts(task: Mapping[str, Any], keys: Iterable[str] = fields.KEYS) -> dict[str, Any]:
    """A stored Uku task's custom fields as Trigon field key -> value."""
    values = {cf["field_id"]: cf["value"] for cf in task["custom_fields"]}
    return {key: values.get(FIELD_ID[key]) for key in keys}


def carries_identity(task: Mapping[str, Any], period: str) -> bool:
    """Whether a task (as the sandbox stores it) is this home's summary task of ``period``
    for the client it belongs to."""
    installation = read_installation()
    assert installation is not None, "a run that wrote tasks has made its installation id"
    identity = TaskIdentity(installation, task["client_id"], period)
    return identity.keeps_marker(task_from_json(task))


class Killed(BaseException):
    """Stands in for the process dying (not an Exception: nothing may swallow it)."""


class BackupThenDie(httpx.BaseTransport):
    """Take a backup right after the ``backup_at``-th create (a POST to ``path``: Uku's
    tasks or clients) reached Uku, then let the command die right after the ``die_at``-th
    (its answer never recorded): the home is lost with a command that went on creating
    after the copy's snapshot."""

    def __init__(
        self, inner: httpx.BaseTransport, path: str, backup_at: int, die_at: int, target: Path
    ) -> None:
        self.inner = inner
        self.path = path
        self.creates = 0
        self.backup_at = backup_at
        self.die_at = die_at
        self.target = target
        self.taken: Backup | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == self.path:
            self.creates += 1
            if self.creates == self.backup_at:
                self.taken = backup(self.target)
            if self.creates == self.die_at:
                raise Killed
        return response


class KillAfterCreates(httpx.BaseTransport):
    """Let ``n`` task creates reach Uku, then die right after the next create commits."""

    def __init__(self, inner: httpx.BaseTransport, n: int) -> None:
        self.inner = inner
        self.n = n
        self.armed = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.armed and request.method == "POST" and request.url.path == "/api/v3/tasks":
            self.n -= 1
            if self.n < 0:
                raise Killed  # the task exists in Uku, the journal never heard of it
        return response


def kill_switches(
    *, armed: bool = True
) -> tuple[list[KillAfterCreates], Callable[[httpx.BaseTransport], httpx.BaseTransport]]:
    """A ``transport_wrapper`` for :func:`connect` that puts a :class:`KillAfterCreates`
    (set to die at the first create) in front of each transport, and the list of them, to
    arm and aim from the test."""
    killers: list[KillAfterCreates] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        killers.append(KillAfterCreates(inner, 0))
        killers[-1].armed = armed
        return killers[-1]

    return killers, wrap
