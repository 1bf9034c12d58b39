"""`[monitoring]`: Healthchecks-style pings and the Prometheus metrics file of run-monthly,
against a ping receiver on 127.0.0.1 and the sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.sandbox_home import Invoke, confirm_all, sandbox_config, store_sandbox_secrets
from tests.cli.set_up_once import set_up_once
from tests.ping_receiver import PING_PATH, Receiver, ping_receiver
from trigon_sync.errors import ExitCode
from trigon_sync.monitoring import ping as pings
from trigon_sync.sandbox import SANDBOX_COMPANY, Running, generate_seed
from trigon_sync.store import paths
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import load_state

BUDGET = 0.5
"""$TRIGON_SYNC_PING_TIMEOUT in these tests: all tries of one ping within half a second."""
SUMMARY = """
[summary]
task_title = "Monthly summary {period}"
topic = "Bookkeeping"
first_import_date = 2024-10-01
schedule = "last_calendar_day"

[fields]
sales_invoices_created = "Sales invoice created"
payments_created = "Payment created"
"""
LINKS = """schema_version = 1
[links.f1]
trigon_id = "f1"
registration_code = "10137319"
name = "Alpha OÜ"
uku_client_id = 1001
linked_at = 2024-09-30
"""


def monitoring(url: str | None, metrics: Path | None = None) -> str:
    lines = ["\n[monitoring]"]
    if url is not None:
        lines.append(f'ping_url = "{url}"')
    if metrics is not None:
        lines.append(f'metrics_file = "{metrics}"')
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def short_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pings.ENV_PING_TIMEOUT, str(BUDGET))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with ping_receiver() as running:
        yield running


@pytest.fixture
def offline_with(write_config: Callable[[str], Path]) -> Callable[[str], None]:
    """Complete settings (services on a port nothing listens on), one linked client, and
    the given [monitoring] section: enough for a night with nothing due."""

    def write(section: str) -> None:
        write_config(
            '[trigon]\nbase_url = "http://127.0.0.1:9/v1"\n\n'
            f'[uku]\nbase_url = "http://127.0.0.1:9/api/v3"\ncompany = "{SANDBOX_COMPANY}"\n'
            + SUMMARY
            + section
        )
        paths.state_file().write_text(LINKS, encoding="utf-8")

    return write


def every_output(*texts: str) -> str:
    """What a person or a program could read afterwards: the outputs given, and every file
    in the home but config.toml (the URL's one place): log, state, ping record, metrics."""
    found = list(texts)
    for path in paths.home_dir().rglob("*"):
        if path == paths.config_file():
            continue
        if path.is_file() and path.suffix in {".log", ".toml", ".json", ".prom", ".jsonl"}:
            found.append(path.read_text(encoding="utf-8"))
    return "\n".join(found)


def assert_no_url(text: str, receiver: Receiver) -> None:
    assert receiver.url not in text
    assert PING_PATH.strip("/") not in text


# -- a night with nothing due ---------------------------------------------------------------


def test_a_night_with_nothing_due_sends_one_alive_ping(
    cli: Invoke, offline_with: Callable[[str], None], receiver: Receiver
) -> None:
    offline_with(monitoring(receiver.url))
    result = cli("run-monthly", "--today", "20.10.2024", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert receiver.signals() == ["success"]
    assert "nothing due" in receiver.seen[0][2]
    assert_no_url(every_output(result.output), receiver)


@pytest.mark.parametrize("mode", ["hang", "error"])
def test_a_monitor_that_hangs_or_fails_costs_the_timeout_and_one_warning(
    cli: Invoke, offline_with: Callable[[str], None], mode: str
) -> None:
    """The exit code and the output stay those of the night; stderr gets one line."""
    with ping_receiver(mode) as receiver:
        offline_with(monitoring(receiver.url))
        started = time.monotonic()
        result = cli("run-monthly", "--today", "20.10.2024", "--quiet")
        took = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: could not ping"), warnings
    assert "127.0.0.1" in warnings[0]
    # The hanging receiver never answers: without the bound the run would wait for ever.
    # The margin is for a loaded 2-core machine starting the command, not for the ping.
    assert took < BUDGET + 5.0
    assert receiver.seen  # it was tried
    if mode == "error":
        assert len(receiver.seen) == pings.ATTEMPTS or took >= BUDGET * 0.9
    assert_no_url(every_output(result.stderr), receiver)


def test_metrics_of_a_night_with_nothing_due(
    cli: Invoke, offline_with: Callable[[str], None], tmp_path: Path
) -> None:
    metrics = tmp_path / "collector" / "trigon_sync.prom"
    metrics.parent.mkdir()
    offline_with(monitoring(None, metrics))
    result = cli("run-monthly", "--today", "20.10.2024")
    assert result.exit_code == 0, result.output
    families = parse(metrics.read_text(encoding="utf-8"))
    assert families["trigon_sync_run_exit_code"] == {(): 0.0}
    assert families["trigon_sync_periods_owed"] == {(): 0.0}
    assert families["trigon_sync_linked_clients"] == {(): 1.0}
    assert "trigon_sync_last_run_timestamp_seconds" not in families  # no run recorded yet
    assert metrics.stat().st_mode & 0o777 == 0o644  # node_exporter reads it as another user


def test_an_unwritable_metrics_file_is_one_warning(
    cli: Invoke, offline_with: Callable[[str], None], tmp_path: Path
) -> None:
    offline_with(monitoring(None, tmp_path / "missing" / "trigon_sync.prom"))
    result = cli("run-monthly", "--today", "20.10.2024", "--quiet")
    assert result.exit_code == 0
    assert result.stderr.count("warning:") == 1 and "metrics file" in result.stderr


def test_a_run_that_fails_before_connecting_pings_its_exit_code(
    cli: Invoke, write_config: Callable[[str], Path], receiver: Receiver
) -> None:
    """No client linked yet (exit 3): the monitor hears /3 at once, not only at the deadline."""
    write_config(f'[uku]\ncompany = "{SANDBOX_COMPANY}"\n' + SUMMARY + monitoring(receiver.url))
    result = cli("run-monthly", "--today", "20.10.2024", "--quiet")
    assert result.exit_code == ExitCode.CONFIG
    assert receiver.signals() == ["3"]
    assert_no_url(every_output(result.output, result.stderr), receiver)


def test_dry_run_and_preview_tell_the_monitor_nothing(
    cli: Invoke, offline_with: Callable[[str], None], receiver: Receiver
) -> None:
    offline_with(monitoring(receiver.url))
    cli("run-monthly", "--today", "31.10.2024", "--dry-run")  # fails: nothing listens
    assert receiver.seen == []


# -- import days against the sandbox ------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(6, seed=4)


@pytest.fixture
def ready(
    seed: dict[str, Any],
    isolated_home: Path,
    memory_keyring: Any,
    write_config: Callable[[str], Path],
    cli: Invoke,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    """Both sandbox servers connected, two fields mapped, the firms imported and linked,
    and View granted on every firm (a run succeeds unless a test revokes one): set up
    once per worker, each test gets its own copy (tests/cli/set_up_once.py)."""

    def set_up(sandbox: Running) -> None:
        write_config(
            sandbox_config(sandbox)
            + '\n[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
            'first_import_date = 2024-10-01\nschedule = "last_calendar_day"\n\n'
            '[fields]\nsales_invoices_created = "Sales invoice created"\n'
            'payments_created = "Payment created"\n'
        )
        store_sandbox_secrets(sandbox, open_store("keyring"))
        assert cli("import-clients").exit_code == 0
        assert confirm_all(cli).exit_code in (0, ExitCode.PARTIAL)
        for firm in load_state().links:
            sandbox.world.restore_view(firm)

    with set_up_once(
        "monitoring.ready",
        seed,
        set_up,
        home=isolated_home,
        secrets=memory_keyring.secrets,
        keep_in=lambda: tmp_path_factory.mktemp("ready"),
    ) as running:
        yield running


def add_monitoring(section: str) -> None:
    config = paths.config_file()
    config.write_text(config.read_text(encoding="utf-8") + section, encoding="utf-8")


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by metric family and labels, as the Prometheus parser reads the file."""
    families: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            families.setdefault(sample.name, {})[labels] = sample.value
    return families


def test_an_import_day_pings_start_then_success_and_metrics_equal_history(
    cli: Invoke, ready: Running, receiver: Receiver, tmp_path: Path
) -> None:
    metrics = tmp_path / "trigon_sync.prom"
    add_monitoring(monitoring(receiver.url, metrics))
    result = cli("run-monthly", "--today", "31.10.2024", "--json")
    assert result.exit_code == 0, result.output
    assert receiver.signals() == ["start", "success"]
    history = cli("history", "--json")
    run = json.loads(history.output)["runs"][0]
    families = parse(metrics.read_text(encoding="utf-8"))

    def one(name: str, **labels: str) -> float:
        return families[f"trigon_sync_{name}"][tuple(sorted(labels.items()))]

    assert run["tasks_created"] > 0
    for key in ("clients_ok", "clients_failed", "tasks_created", "tasks_updated"):
        assert one(f"last_run_{key}") == run[key], key
    assert one("last_run_duration_seconds") == run["duration_seconds"]
    from datetime import datetime

    assert one("last_run_timestamp_seconds") == datetime.fromisoformat(run["at"]).timestamp()
    assert one("last_success_timestamp_seconds") == one("last_run_timestamp_seconds")
    assert one("last_run_outcome", outcome="ok") == 1
    assert one("last_run_outcome", outcome="partial") == 0
    assert one("last_run_periods") == len(run["periods"])
    for service in ("trigon", "uku"):
        assert one("last_run_requests", service=service) == run["requests"][service]["total"]
        assert (
            one("last_run_rate_limited_requests", service=service)
            == run["requests"][service]["rate_limited"]
        )
    assert run["requests"]["trigon"]["total"] > 0
    assert one("periods_owed") == 0 and one("client_periods_owed") == 0
    assert one("run_exit_code") == 0
    day = datetime.fromisoformat("2024-10-31T00:00:00+02:00").timestamp()
    assert one("last_successful_import_day_timestamp_seconds") == day
    assert_no_url(every_output(result.output, result.stderr, history.output), receiver)
    assert_no_url(metrics.read_text(encoding="utf-8"), receiver)


def test_a_failed_import_day_pings_its_exit_code_and_owes_the_period(
    cli: Invoke, ready: Running, receiver: Receiver, tmp_path: Path
) -> None:
    metrics = tmp_path / "trigon_sync.prom"
    add_monitoring(monitoring(receiver.url, metrics))
    victim = sorted(load_state().links)[0]
    ready.world.revoke_view(victim)
    result = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert result.exit_code == ExitCode.PARTIAL
    assert receiver.signals() == ["start", str(int(ExitCode.PARTIAL))]
    assert "exit 5" in receiver.seen[-1][2]
    families = parse(metrics.read_text(encoding="utf-8"))
    assert families["trigon_sync_run_exit_code"] == {(): 5.0}
    assert families["trigon_sync_last_run_outcome"][(("outcome", "partial"),)] == 1
    assert families["trigon_sync_last_run_clients_failed"] == {(): 1.0}
    assert families["trigon_sync_periods_owed"] == {(): 1.0}
    assert families["trigon_sync_client_periods_owed"] == {(): 1.0}  # only the victim left
    assert "trigon_sync_last_success_timestamp_seconds" not in families
    assert_no_url(every_output(result.output, result.stderr), receiver)


def test_a_monitor_answering_500_on_an_import_day_leaves_the_run_alone(
    cli: Invoke, ready: Running
) -> None:
    with ping_receiver("error") as receiver:
        add_monitoring(monitoring(receiver.url))
        result = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("warning:") == 1, result.stderr
    assert set(receiver.signals()) == {"start"}  # the end ping is not waited for again
    assert load_state().history[-1].result == "ok"
    assert_no_url(every_output(result.output, result.stderr), receiver)
