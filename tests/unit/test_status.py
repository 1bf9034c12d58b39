"""The status report and the local/environment checks: facts from files in, lines out."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from trigon_sync.cli import output
from trigon_sync.clock import TALLINN
from trigon_sync.errors import ExitCode
from trigon_sync.health.checks import TITLES, TROUBLESHOOTING, Check, Outcome
from trigon_sync.health.environment_checks import (
    KeyringProbe,
    cron_keyring_probe,
    keyring_check,
    permissions_check,
    register_check,
    timezone_check,
)
from trigon_sync.health.status import StatusReport, build_status, gather
from trigon_sync.records.tables import Periods
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config
from trigon_sync.store.secrets import (
    TRIGON_REFRESH_TOKEN,
    UKU_API_KEY,
    Secret,
    keyring_account,
    open_store,
)
from trigon_sync.store.state import ClientLink, locked_state

TODAY = dt.date(2024, 11, 20)
FULL_CONFIG = """\
[trigon]
base_url = "http://127.0.0.1:9/v1"
email = "admin@firm.ee"

[uku]
base_url = "http://127.0.0.1:9/api/v3"
company = "c0ffee00-0000-4000-8000-000000000000"

[summary]
task_title = "Monthly summary {period}"
topic = "Bookkeeping"
schedule = "last_calendar_day"
first_import_date = 2024-10-01

[fields]
sales_invoices_created = "Sales invoice created"
"""


def write_config(text: str = FULL_CONFIG) -> None:
    paths.ensure_home()
    paths.config_file().write_text(text, encoding="utf-8")


def connect() -> None:
    """Store both secrets as `connect` and `connect-uku` would."""
    store = open_store("keyring")
    store.set(TRIGON_REFRESH_TOKEN, Secret("rt-secret"))
    store.set(UKU_API_KEY, Secret("uku-secret"))


def link(*names: str, counted_to: dt.date | None = dt.date(2024, 10, 30)) -> None:
    """Link one client per name and mark 2024-10 counted up to ``counted_to``."""
    with locked_state() as session:
        for i, name in enumerate(names, start=1):
            session.state.links[f"f{i}"] = ClientLink(
                f"f{i}", f"1000000{i}", name, 100 + i, dt.date(2024, 10, 1)
            )
        if counted_to is not None:
            session.state.complete_window(counted_to, "2024-10")
        session.save()


def report(today: dt.date = TODAY) -> StatusReport:
    return build_status(gather(today))


def check(result: StatusReport, name: str) -> Check:
    return next(c for c in result.checks if c.name == name)


@pytest.fixture
def healthy() -> None:
    """Configured, connected, two clients linked, 2024-10 counted."""
    write_config()
    connect()
    link("Alpha OÜ", "Beeta AS")


def test_an_empty_home_is_a_configuration_problem() -> None:
    """No config file: config.valid fails first and the exit code is CONFIG."""
    result = report()
    assert result.exit_code is ExitCode.CONFIG
    first = check(result, "config.valid")
    assert first.outcome is Outcome.FAIL
    assert "no config file" in first.detail
    assert first.fix is not None and "connect" in first.fix


def test_a_healthy_installation_exits_zero_and_shows_the_next_window(healthy: None) -> None:
    """Everything set: exit 0, no warnings, next import 30.11.2024 counting 31.10–29.11."""
    result = report()
    assert result.exit_code is ExitCode.OK
    assert result.warnings == []
    upcoming = result.facts.next_run
    assert upcoming is not None
    assert (upcoming.import_day, upcoming.window_start, upcoming.window_end, upcoming.period) == (
        dt.date(2024, 11, 30),
        dt.date(2024, 10, 31),
        dt.date(2024, 11, 29),
        "2024-11",
    )
    assert result.mapped == {"sales_invoices_created": "Sales invoice created"}
    assert len(result.unmapped) == 13


def test_configured_but_not_connected_is_an_auth_problem() -> None:
    """Config complete but no tokens stored: Trigon and Uku lines fail, exit AUTH."""
    write_config()
    link("Alpha OÜ")
    result = report()
    assert result.exit_code is ExitCode.AUTH
    assert check(result, "trigon.connected").outcome is Outcome.FAIL
    assert "connect-uku" in (check(result, "uku.connected").fix or "")


def test_an_invalid_config_is_reported_not_raised() -> None:
    """A typo in config.toml: the report lists the problem, exit CONFIG, store lines skipped."""
    write_config('[summary]\ntask_titel = "x"\n')
    result = report()
    assert result.exit_code is ExitCode.CONFIG
    doc = result.to_json()
    assert doc["config"]["valid"] is False
    assert "did you mean 'task_title'" in doc["config"]["problems"][0]
    assert check(result, "trigon.connected").outcome is Outcome.SKIP


def test_a_corrupt_state_is_a_state_problem(healthy: None) -> None:
    """Garbage in state.toml: state.readable fails and the exit code is STATE."""
    paths.state_file().write_text("not = [valid", encoding="utf-8")
    result = report()
    assert check(result, "state.readable").outcome is Outcome.FAIL
    assert result.exit_code is ExitCode.STATE
    # nothing is known of the runs either: not "the last run succeeded"
    assert check(result, "runs.last").outcome is Outcome.SKIP


def test_missing_summary_settings_are_listed_together() -> None:
    """Without [summary] and [fields] every missing key is named in one line."""
    write_config('[trigon]\nemail = "admin@firm.ee"\n')
    connect()
    detail = check(report(), "config.monthly").detail
    for key in ("summary.task_title", "summary.topic", "summary.schedule", "fields"):
        assert key in detail


def test_no_linked_clients_means_no_tasks(healthy: None) -> None:
    """Zero links: clients.linked fails with the import-clients fix."""
    with locked_state() as session:
        session.state.links.clear()
        session.save()
    result = check(report(), "clients.linked")
    assert result.outcome is Outcome.FAIL
    assert "import-clients" in (result.fix or "")


def test_a_missed_import_day_is_stale_counts(healthy: None) -> None:
    """On 05.12.2024 the 30.11.2024 run has not happened: ✗ naming 2024-11, exit PARTIAL."""
    result = report(dt.date(2024, 12, 5))
    stale = check(result, "runs.current")
    assert stale.outcome is Outcome.FAIL
    assert "2024-11 (import day 30.11.2024)" in stale.detail
    assert "run-monthly" in (stale.fix or "")
    assert result.exit_code is ExitCode.PARTIAL


def test_the_import_day_itself_is_not_yet_overdue(healthy: None) -> None:
    """On the import day (before or after 00:30) the run is due, not late."""
    assert check(report(dt.date(2024, 11, 30)), "runs.current").outcome is Outcome.OK


def test_last_run_failures_are_named_with_reasons(healthy: None) -> None:
    """A partial last run: runs.last fails naming each client and its reason."""
    with locked_state() as session:
        session.state.record(
            dt.datetime(2024, 10, 31, 0, 30, tzinfo=TALLINN),
            "run-monthly",
            "partial",
            periods=["2024-10"],
            complete=[],
            clients_ok=1,
            clients_failed=1,
            failures=[{"firm": "f2", "name": "Beeta AS", "reason": "no View permission"}],
        )
        session.save()
    result = report()
    last = check(result, "runs.last")
    assert last.outcome is Outcome.FAIL
    assert "Beeta AS: no View permission" in last.detail
    assert result.exit_code is ExitCode.PARTIAL
    assert result.to_json()["last_run"]["result"] == "partial"


def test_an_interrupted_run_is_a_warning(healthy: None) -> None:
    """A period opened but not finished: a warning to run run-monthly; exit stays 0."""
    with locked_state() as session:
        session.state.journal = Periods.from_document(
            {
                "period": "2024-11",
                "import_day": dt.date(2024, 11, 30),
                "window_start": dt.date(2024, 10, 31),
                "window_end": dt.date(2024, 11, 29),
            }
        )
        session.save()
    result = report()
    assert check(result, "runs.current").outcome is Outcome.WARN
    assert result.exit_code is ExitCode.OK
    assert result.to_json()["window"]["run_in_progress"] is True


def test_a_corrupt_journal_fails_runs_current_as_run_monthly_would(healthy: None) -> None:
    """An open period without its window: run-monthly stops on it, so status says so (exit 8)."""
    with locked_state() as session:
        session.state.journal = Periods.from_document(
            {"period": "2024-11", "import_day": dt.date(2024, 11, 30)}
        )
        session.save()
    result = report()
    current = check(result, "runs.current")
    assert current.outcome is Outcome.FAIL
    assert "corrupt" in current.detail
    assert result.exit_code is ExitCode.STATE


def test_the_json_document_is_plain_json(healthy: None) -> None:
    """to_json renders through output.to_json: dates as ISO strings, one object."""
    doc = json.loads(output.to_json(report().to_json()))
    assert doc["command"] == "status"
    assert doc["window"]["next_import"]["import_day"] == "2024-11-30"
    assert doc["connections"]["trigon"]["connected"] is True
    assert doc["connections"]["uku"]["connected"] is True
    assert doc["clients"]["linked"] == 2
    # clock.recorded needs a clock reading, which gather() without ``now`` does not take
    assert {c["status"] for c in doc["checks"] if c["name"] != "clock.recorded"} == {"ok"}


def test_every_troubleshooting_check_has_a_title() -> None:
    """The mapping from the product's troubleshooting list names only real checks."""
    assert {name for names in TROUBLESHOOTING.values() for name in names} <= TITLES.keys()


# --------------------------------------------------------------------------- environment


def test_group_or_world_readable_files_fail_with_chmod(healthy: None) -> None:
    """state.toml at 0644 and the home at 0755: ✗ with the exact chmod commands."""
    paths.state_file().chmod(0o644)
    paths.home_dir().chmod(0o755)
    result = permissions_check()
    assert result.outcome is Outcome.FAIL
    assert "state.toml is 0644" in result.detail
    assert f"chmod 600 {paths.state_file()}" in (result.fix or "")
    assert f"chmod 700 {paths.home_dir()}" in (result.fix or "")


def test_private_files_pass(healthy: None) -> None:
    """Files written by trigon-sync itself are 0600 in a 0700 home."""
    paths.config_file().chmod(0o600)
    assert permissions_check().outcome is Outcome.OK


NOW = dt.datetime(2024, 11, 20, 12, 0, tzinfo=TALLINN)


def test_no_register_file_is_a_warning(healthy: None) -> None:
    """Nothing downloaded or configured: a warning with `register update`."""
    result = register_check(load_config(), NOW)
    assert result.outcome is Outcome.WARN
    assert "register update" in (result.fix or "")


def test_an_old_register_file_is_a_warning_and_a_fresh_one_passes(healthy: None) -> None:
    """A 40-day-old file warns; touched today it passes."""
    from trigon_sync.business_register.file_format import default_register_file

    path = default_register_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"zip")
    old = (NOW - dt.timedelta(days=40)).timestamp()
    os.utime(path, (old, old))
    result = register_check(load_config(), NOW)
    assert result.outcome is Outcome.WARN
    assert "40 days old" in result.detail
    os.utime(path, (NOW.timestamp(), NOW.timestamp()))
    assert register_check(load_config(), NOW).outcome is Outcome.OK


def test_a_configured_register_file_that_is_missing_fails(healthy: None) -> None:
    """register.file names a path that does not exist: ✗ (imports would fail on it)."""
    write_config(FULL_CONFIG + '\n[register]\nfile = "/nonexistent/register.zip"\n')
    result = register_check(load_config(), NOW)
    assert result.outcome is Outcome.FAIL
    assert result.code is ExitCode.CONFIG


@pytest.fixture
def system_zone() -> Iterator[Callable[[str], None]]:
    """Switch the process's local time zone (TZ + tzset) and restore it afterwards."""
    original = os.environ.get("TZ")

    def use(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield use
    if original is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = original
    time.tzset()


def test_a_utc_server_without_cron_tz_is_explained(system_zone: Callable[[str], None]) -> None:
    """System on UTC, no CRON_TZ: a warning showing both clocks and the CRON_TZ fix."""
    system_zone("UTC")
    result = timezone_check(NOW, crontab="30 0 * * * trigon-sync run-monthly\n", environ={})
    assert result.outcome is Outcome.WARN
    assert "Tallinn 20.11.2024 12:00 (+0200), system 20.11.2024 10:00 (+0000)" in result.detail
    assert "CRON_TZ=Europe/Tallinn" in (result.fix or "")


def test_cron_tz_in_the_crontab_passes(system_zone: Callable[[str], None]) -> None:
    """System on UTC but the crontab sets CRON_TZ=Europe/Tallinn: ✓."""
    system_zone("UTC")
    crontab = "CRON_TZ=Europe/Tallinn\n30 0 * * * trigon-sync run-monthly\n"
    result = timezone_check(NOW, crontab=crontab, environ={})
    assert result.outcome is Outcome.OK
    assert "crontab sets CRON_TZ=Europe/Tallinn" in result.detail


def test_a_system_on_tallinn_time_passes(system_zone: Callable[[str], None]) -> None:
    """System zone Europe/Tallinn: ✓ without looking at the crontab."""
    system_zone("Europe/Tallinn")
    assert timezone_check(NOW, crontab=None, environ={}).outcome is Outcome.OK


def test_a_server_east_of_tallinn_is_on_another_date(system_zone: Callable[[str], None]) -> None:
    """At 22:00 in Tallinn a Tokyo server is already on the next day: said in the detail."""
    system_zone("Asia/Tokyo")
    late = dt.datetime(2024, 11, 20, 22, 0, tzinfo=TALLINN)
    result = timezone_check(late, crontab=None, environ={})
    assert result.outcome is Outcome.WARN
    assert "the dates differ right now" in result.detail


def test_the_file_store_needs_no_keyring() -> None:
    """token_store = "file": the cron keyring probe is not even run."""
    write_config('[trigon]\ntoken_store = "file"\n')

    def probe() -> KeyringProbe:
        raise AssertionError("no keyring probe for the file store")

    assert keyring_check(load_config(), probe).outcome is Outcome.OK


def test_a_keyring_that_fails_from_cron_is_a_failure() -> None:
    """The cron-like probe finds no keyring: ✗ with the two ways out."""
    result = keyring_check(load_config(), lambda: KeyringProbe(False, "no OS keyring"))
    assert result.outcome is Outcome.FAIL
    assert "--token-store file" in (result.fix or "")


def test_the_cron_probe_reports_a_missing_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child process with keyring's fail backend answers 'not ok', naming it."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    result = cron_keyring_probe()
    assert not result.ok
    assert "no OS keyring" in result.detail


def test_the_cron_probe_reads_the_token_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An explicitly selected file keyring works from a cron-like child; the value stays hidden."""
    pytest.importorskip("keyrings.alt.file")
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    PlaintextKeyring().set_password(
        "trigon-sync", keyring_account(TRIGON_REFRESH_TOKEN), "rt-very-secret"
    )
    result = cron_keyring_probe()
    assert result.ok, result.detail
    assert "the Trigon token is readable" in result.detail
    assert "rt-very-secret" not in result.detail


def test_an_unfinished_period_keeps_its_window_after_a_schedule_change(healthy: None) -> None:
    """A 2024-11 run opened on 29.11 (last work day), then the schedule moved to day 5: on
    02.12 that period is overdue with its own window, not a new 05.12 window."""
    with locked_state() as session:
        session.state.journal = Periods.from_document(
            {
                "period": "2024-11",
                "import_day": dt.date(2024, 11, 29),
                "window_start": dt.date(2024, 10, 31),
                "window_end": dt.date(2024, 11, 28),
                "started_at": "2024-11-29T00:30:00+02:00",
            }
        )
        session.save()
    write_config(FULL_CONFIG.replace('"last_calendar_day"', '"day_of_next_month"\nday = 5'))
    result = report(dt.date(2024, 12, 2))
    upcoming = result.facts.next_run
    assert upcoming is not None
    assert (upcoming.import_day, upcoming.window_end) == (
        dt.date(2024, 11, 29),
        dt.date(2024, 11, 28),
    )
    stale = check(result, "runs.current")
    assert stale.outcome is Outcome.FAIL
    assert "2024-11 (import day 29.11.2024)" in stale.detail
    assert result.exit_code is ExitCode.PARTIAL


def test_a_cron_keyring_without_the_stored_token_is_a_failure() -> None:
    """The token is stored here, but the keyring cron reaches does not have it: ✗, since
    the 00:30 run would find no Trigon connection."""
    write_config()
    probe = KeyringProbe(True, "PlaintextKeyring: no Trigon token stored", token=False)
    result = keyring_check(load_config(), lambda: probe, token_stored=True)
    assert result.outcome is Outcome.FAIL
    assert "PYTHON_KEYRING_BACKEND" in (result.fix or "")


def test_a_clock_behind_the_last_recorded_run_fails_status_with_the_clock_code(
    healthy: None,
) -> None:
    """A local clock a year before the latest history record: status says so (exit 10)."""
    with locked_state() as session:
        session.state.record(NOW, "import-clients", "ok")
        session.save()
    year_before = NOW - dt.timedelta(days=365)
    result = build_status(gather(TODAY, now=year_before))
    line = check(result, "clock.recorded")
    assert line.outcome is Outcome.FAIL and "365 days behind" in line.detail
    assert result.exit_code is ExitCode.CLOCK
    assert check(build_status(gather(TODAY, now=NOW)), "clock.recorded").outcome is Outcome.OK
