"""`doctor`'s live checks against the in-process sandbox: every troubleshooting item can fail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from trigon_sync.cli.connections import trigon_client, trigon_wire, uku_client
from trigon_sync.errors import ExitCode, TrigonSyncError
from trigon_sync.health.checks import TROUBLESHOOTING, Check, Outcome
from trigon_sync.health.doctor import DoctorReport, diagnose, live_gates
from trigon_sync.health.status import build_status, gather
from trigon_sync.http.session import RetryPolicy
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    SandboxWorld,
    SyncASGITransport,
    generate_seed,
)
from trigon_sync.store import paths
from trigon_sync.store.secrets import TRIGON_REFRESH_TOKEN, UKU_API_KEY, Secret, open_store
from trigon_sync.store.state import ClientLink, locked_state
from trigon_sync.trigon import login

TODAY = dt.date(2024, 11, 20)
TRIGON_URL = "http://127.0.0.1:9/v1"
UKU_URL = "http://127.0.0.1:9/api/v3"
CONFIG = """\
[trigon]
base_url = "{trigon_url}"
email = "admin@firm.ee"

[uku]
base_url = "{uku_url}"
company = "{company}"

[summary]
task_title = "Monthly summary {{period}}"
topic = "{topic}"
schedule = "last_calendar_day"
first_import_date = 2024-10-01

[fields]
sales_invoices_created = "Sales invoice created"
payments_created = "{payments_field}"
"""


@pytest.fixture
def sandbox_world() -> SandboxWorld:
    """A small world without anomalies: 4 firms, all listed and viewable by the admin."""
    return SandboxWorld(generate_seed(4, seed=3))


def write_config(topic: str = "Bookkeeping", payments_field: str = "Payment created") -> None:
    """config.toml pointing at the sandbox (the in-process transport ignores the host)."""
    paths.ensure_home()
    text = CONFIG.format(
        trigon_url=TRIGON_URL,
        uku_url=UKU_URL,
        company=SANDBOX_COMPANY,
        topic=topic,
        payments_field=payments_field,
    )
    paths.config_file().write_text(text, encoding="utf-8")


def link_every_firm(world: SandboxWorld) -> None:
    """Create an Uku client per Trigon firm and link them all in state, as `confirm` would."""
    with world.lock:
        firms = list(world.trigon.firms.values())
        created = [
            world.uku.create_client({"name": f.name, "registration_code": f.registration_code})[0]
            for f in firms
        ]
    with locked_state() as session:
        state = session.state
        for firm, client in zip(firms, created, strict=True):
            state.links[firm.id] = ClientLink(
                trigon_id=firm.id,
                registration_code=firm.registration_code or "",
                name=firm.name,
                uku_client_id=client["id"],
                linked_at=dt.date(2024, 10, 1),
            )
        state.complete_window(dt.date(2024, 10, 30), "2024-10")
        session.save()


def _client_or_error(make: Callable[[], Any]) -> Any:
    try:
        return make()
    except TrigonSyncError as exc:
        return exc


@dataclass
class Setup:
    """A connected, fully linked installation and the sandbox world it talks to."""

    world: SandboxWorld
    transport: Callable[[str], SyncASGITransport]

    def doctor(self, trigon_transport: httpx.BaseTransport | None = None) -> DoctorReport:
        """Run the status and live checks as `doctor` does (environment checks left out)."""
        report = build_status(gather(TODAY, whole_state=True))
        trigon_gate, uku_gate = live_gates(report)
        config = report.facts.config
        trigon: Any = trigon_gate or "no config"
        uku: Any = uku_gate or "no config"
        if config is not None and trigon_gate is None:
            trigon = _client_or_error(
                lambda: trigon_client(
                    config,
                    transport=trigon_transport or self.transport("trigon"),
                    policy=RetryPolicy(max_attempts=2),
                    sleep=lambda _s: None,
                )
            )
        if config is not None and uku_gate is None:
            uku = _client_or_error(lambda: uku_client(config, transport=self.transport("uku")))
        return diagnose(report, trigon=trigon, uku=uku, environment=[])


@pytest.fixture
def setup(
    sandbox_world: SandboxWorld,
    trigon_app: Any,
    uku_app: Any,
    asgi_transport: Callable[[Any], SyncASGITransport],
) -> Setup:
    """Config written, both services connected, every firm linked, 2024-10 counted."""

    def transport(side: str) -> SyncASGITransport:
        return asgi_transport(trigon_app if side == "trigon" else uku_app)

    write_config()
    store = open_store("keyring")
    wire = trigon_wire(TRIGON_URL, transport=transport("trigon"))
    try:
        grant = login(wire, SANDBOX_EMAIL, SANDBOX_PASSWORD)
    finally:
        wire.close()
    store.set(TRIGON_REFRESH_TOKEN, grant.refresh)
    store.set(UKU_API_KEY, Secret(SANDBOX_UKU_KEY))
    link_every_firm(sandbox_world)
    return Setup(sandbox_world, transport)


def by_name(report: DoctorReport) -> dict[str, Check]:
    return {check.name: check for check in report.checks}


def failures(report: DoctorReport) -> dict[str, Check]:
    return {c.name: c for c in report.checks if c.outcome is Outcome.FAIL}


def test_a_healthy_installation_passes_every_check(setup: Setup) -> None:
    """Connected, configured, all firms linked and 2024-10 counted: no failure, exit 0."""
    report = setup.doctor()
    assert failures(report) == {}
    assert report.exit_code is ExitCode.OK
    checks = by_name(report)
    assert "signed in as Sandbox Admin" in checks["trigon.refresh"].detail
    assert checks["uku.topic"].detail == "Bookkeeping (id 1)"
    assert checks["trigon.firms"].detail == "all 4 listed and viewable"


def test_a_firm_without_view_is_named_with_the_fix(setup: Setup) -> None:
    """View taken away on a linked firm: ✗ naming it, grant View then rerun, exit PERMISSION."""
    firm = setup.world.trigon.firms["f2"]
    setup.world.revoke_view("f2")
    report = setup.doctor()
    check = by_name(report)["trigon.firms"]
    assert check.outcome is Outcome.FAIL
    assert f"{firm.name} ({firm.registration_code}): listed without View" in check.detail
    assert check.fix is not None and "add List and View" in check.fix
    assert "`trigon-sync run-monthly` again" in check.fix  # import-clients would not retry it
    assert report.exit_code is ExitCode.PERMISSION


def test_a_firm_no_longer_listed_is_named(setup: Setup) -> None:
    """List taken away on a linked firm: the firm is named as 'not listed'."""
    setup.world.set_permission("f3", list_=False)
    check = by_name(setup.doctor())["trigon.firms"]
    assert check.outcome is Outcome.FAIL
    assert "not listed" in check.detail
    assert setup.world.trigon.firms["f3"].name in check.detail


def test_a_revoked_connection_fails_refresh_and_skips_what_depends_on_it(setup: Setup) -> None:
    """A revoked refresh token: refresh ✗ (connect again), firm checks skipped, Uku checked."""
    setup.world.revoke_refresh_tokens()
    report = setup.doctor()
    checks = by_name(report)
    assert checks["trigon.refresh"].outcome is Outcome.FAIL
    assert "connect" in (checks["trigon.refresh"].fix or "")
    assert checks["trigon.firms"].outcome is Outcome.SKIP
    assert "refresh failed" in checks["trigon.firms"].detail
    assert checks["uku.key"].outcome is Outcome.OK
    assert checks["uku.clients"].outcome is Outcome.OK
    assert report.exit_code is ExitCode.AUTH


@pytest.mark.parametrize(
    ("change", "word"),
    [
        (lambda w: w.deactivate_user(SANDBOX_EMAIL), "inactive"),
        (lambda w: w.set_user_removed(SANDBOX_EMAIL), "removed"),
    ],
)
def test_an_inactive_or_removed_user_is_reported(
    setup: Setup, change: Callable[[SandboxWorld], None], word: str
) -> None:
    """The Trigon user deactivated or removed: refresh ✗ saying so, with a fix."""
    change(setup.world)
    check = by_name(setup.doctor())["trigon.refresh"]
    assert check.outcome is Outcome.FAIL
    assert word in check.detail
    assert check.fix


def test_a_new_trigon_firm_asks_for_a_client_import(setup: Setup) -> None:
    """A firm added in Trigon after the import: ✗ naming it with 'run import-clients'."""
    setup.world.add_firm("f99", "Uus Firma OÜ", "10137319")
    check = by_name(setup.doctor())["trigon.unimported"]
    assert check.outcome is Outcome.FAIL
    assert "Uus Firma OÜ (f99)" in check.detail
    assert "import-clients" in (check.fix or "")


def test_a_wrong_uku_key_fails_and_skips_the_uku_lookups(setup: Setup) -> None:
    """A rejected API key: uku.key ✗ with 'connect-uku'; topic/fields/clients skipped."""
    open_store("keyring").set(UKU_API_KEY, Secret("wrong-key"))
    report = setup.doctor()
    checks = by_name(report)
    assert checks["uku.key"].outcome is Outcome.FAIL
    assert "connect-uku" in (checks["uku.key"].fix or "")
    assert {checks[n].outcome for n in ("uku.topic", "uku.fields", "uku.clients")} == {Outcome.SKIP}
    assert report.exit_code is ExitCode.AUTH


def test_an_uku_plan_without_api_access_is_a_permission_failure(setup: Setup) -> None:
    """A subscription below Team: uku.key ✗ with the plan named."""
    setup.world.set_uku(plan="solo")
    check = by_name(setup.doctor())["uku.key"]
    assert check.outcome is Outcome.FAIL
    assert "no API access" in check.detail
    assert check.code is ExitCode.PERMISSION


def test_a_missing_topic_lists_the_ones_that_exist(setup: Setup) -> None:
    """summary.topic names no Uku topic: ✗ listing the company's topics."""
    write_config(topic="Raamatupidamine")
    check = by_name(setup.doctor())["uku.topic"]
    assert check.outcome is Outcome.FAIL
    assert "'Raamatupidamine'" in check.detail and "'Bookkeeping'" in check.detail
    assert check.fix


@pytest.mark.parametrize(
    ("target", "said"),
    [("Notes", "is a text field"), ("Kilometres", "no Uku task custom field 'Kilometres'")],
)
def test_a_mapped_field_that_is_missing_or_not_a_number(
    setup: Setup, target: str, said: str
) -> None:
    """A mapped custom field that is text or absent: ✗ naming the key and what is wrong."""
    write_config(payments_field=target)
    check = by_name(setup.doctor())["uku.fields"]
    assert check.outcome is Outcome.FAIL
    assert check.detail.startswith("payments_created: ")
    assert said in check.detail


def test_a_linked_client_deleted_in_uku_is_named(setup: Setup) -> None:
    """A linked Uku client that no longer exists: ✗ naming it, fix 'import-clients'."""
    link = next(iter(setup.world.trigon.firms))
    with locked_state() as session:
        client_id = session.state.links[link].uku_client_id
    with setup.world.lock:
        del setup.world.uku.clients[client_id]
    check = by_name(setup.doctor())["uku.clients"]
    assert check.outcome is Outcome.FAIL
    assert f"Uku client {client_id}" in check.detail
    assert "import-clients" in (check.fix or "")


def test_an_unreachable_trigon_does_not_stop_the_uku_checks(setup: Setup) -> None:
    """Trigon down (connection refused): its checks fail/skip, every Uku check still passes."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    report = setup.doctor(trigon_transport=httpx.MockTransport(refuse))
    checks = by_name(report)
    assert checks["trigon.refresh"].outcome is Outcome.FAIL
    assert checks["trigon.refresh"].code is ExitCode.SERVICE
    assert all(checks[n].outcome is Outcome.OK for n in ("uku.key", "uku.topic", "uku.fields"))


# Each troubleshooting item of the product reference, broken in the sandbox.
def _break_permission(s: Setup) -> None:
    s.world.revoke_view("f1")


def _break_credentials(s: Setup) -> None:
    s.world.revoke_refresh_tokens()


def _break_user(s: Setup) -> None:
    s.world.deactivate_user(SANDBOX_EMAIL)


def _break_visibility(s: Setup) -> None:
    s.world.set_permission("f4", list_=False)


def _break_enabled(s: Setup) -> None:
    open_store("keyring").delete(UKU_API_KEY)


def _break_settings(s: Setup) -> None:
    paths.config_file().write_text(
        paths.config_file().read_text(encoding="utf-8").replace('topic = "Bookkeeping"\n', ""),
        encoding="utf-8",
    )


def _break_integration(s: Setup) -> None:
    with locked_state() as session:
        session.state.links.clear()
        session.save()


def _break_import(s: Setup) -> None:
    s.world.add_firm("f50", "Hiline Klient OÜ", "10137319")


def _break_staleness(s: Setup) -> None:
    with locked_state() as session:
        session.state.last_period_end = dt.date(2024, 9, 29)
        session.state.last_period = "2024-09"
        session.save()


BREAKERS: dict[str, Callable[[Setup], None]] = dict(
    zip(
        TROUBLESHOOTING,
        (
            _break_permission,
            _break_credentials,
            _break_user,
            _break_visibility,
            _break_enabled,
            _break_settings,
            _break_integration,
            _break_import,
            _break_staleness,
        ),
        strict=True,
    )
)


@pytest.mark.parametrize("item", list(TROUBLESHOOTING))
def test_every_troubleshooting_item_can_fail_with_its_fix(setup: Setup, item: str) -> None:
    """Breaking what a troubleshooting item describes makes one of its doctor lines ✗ with a fix."""
    assert by_name(setup.doctor()).keys() >= set(TROUBLESHOOTING[item])
    BREAKERS[item](setup)
    report = setup.doctor()
    hit = [failures(report)[n] for n in TROUBLESHOOTING[item] if n in failures(report)]
    assert hit, f"{item}: none of {TROUBLESHOOTING[item]} failed"
    assert all(check.fix for check in hit)
    assert report.exit_code is not ExitCode.OK
