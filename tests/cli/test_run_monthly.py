"""`run-monthly` through the CLI: the nightly no-op, refusals, and runs against the sandbox."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, confirm_all, sandbox_config, store_sandbox_secrets
from tests.cli.set_up_once import set_up_once
from tests.disk_full import FullDisk
from trigon_sync.clock import TALLINN
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    Running,
    generate_seed,
)
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.store import paths
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import load_state

SUMMARY = """
[summary]
task_title = "Monthly summary {period}"
topic = "Bookkeeping"
first_import_date = 2024-10-01
schedule = "last_calendar_day"

[fields]
sales_invoices_created = "Sales invoice created"
payments_created = "Payment created"
active_reporting_persons = "Active reporting persons"
"""
LINKS = """
[links.f1]
trigon_id = "f1"
registration_code = "10137319"
name = "Alpha OÜ"
uku_client_id = 1001
linked_at = 2024-09-30
"""


def write_state(text: str) -> None:
    paths.ensure_home()
    paths.state_file().write_text("schema_version = 1\n" + text, encoding="utf-8")


@pytest.fixture
def offline(write_config: Callable[[str], Path]) -> None:
    """Complete settings pointing at a port nothing listens on, and one linked client."""
    write_config(
        '[trigon]\nbase_url = "http://127.0.0.1:9/v1"\n\n'
        f'[uku]\nbase_url = "http://127.0.0.1:9/api/v3"\ncompany = "{SANDBOX_COMPANY}"\n' + SUMMARY
    )
    write_state(LINKS)


def test_nothing_due_prints_one_line_and_touches_no_network(cli: Invoke, offline: None) -> None:
    """An ordinary night: one line naming the next import and its window, exit 0."""
    result = cli("run-monthly", "--today", "20.10.2024")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Nothing due: next import 31.10.2024 will count 01.10.2024–30.10.2024 (period 2024-10).\n"
    )
    log = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    assert "nothing due" in log


def test_nothing_due_is_silent_with_quiet_and_structured_with_json(
    cli: Invoke, offline: None
) -> None:
    """--quiet prints nothing; --json gives the empty plan and the next run."""
    assert cli("run-monthly", "--today", "20.10.2024", "--quiet").output == ""
    doc = json.loads(cli("run-monthly", "--today", "20.10.2024", "--json").output)
    assert doc["periods"] == [] and doc["next"]["import_day"] == "2024-10-31"


@pytest.mark.parametrize(
    "argv",
    [["run-monthly", "--quiet", "--today", "2024-10-20"], ["status", "--json"]],
    ids=["run-monthly no-op", "status --json"],
)
def test_the_nightly_calls_stay_light(offline: None, argv: list[str]) -> None:
    """In a fresh process the no-op and `status --json` never load the run, the sandbox,
    the HTTP stack (neither makes a request) or, under a calendar-day rule, the holiday
    calendar."""
    code = (
        "import sys\n"
        "from trigon_sync.cli.app import app\n"
        "try:\n"
        f"    app({argv!r}, prog_name='t')\n"
        "except SystemExit:\n"
        "    pass  # the exit code is the command's business here\n"
        "heavy = ['trigon_sync.monthly.run', 'trigon_sync.sandbox', 'uvicorn', 'starlette',"
        " 'httpx',"
        " 'workalendar']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
        timeout=60,  # a hang guard; the no-op's speed is printed by benchmarks/noop_bench.py
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr


def test_missing_settings_are_all_listed_with_the_config_exit_code(
    cli: Invoke, write_config: Callable[[str], Path]
) -> None:
    """The "tasks aren't being created" checklist in one line, exit 3."""
    write_config('[summary]\ntask_title = "S {period}"\n')
    result = cli("run-monthly")
    assert result.exit_code == ExitCode.CONFIG
    for key in ("summary.topic", "summary.schedule", "summary.first_import_date", "fields"):
        assert key in result.output
    assert "links" in result.output and "import-clients" in result.output


def test_today_after_the_real_today_is_a_usage_error(cli: Invoke, offline: None) -> None:
    """--today replays the past; a future date is refused."""
    result = cli("run-monthly", "--today", "01.01.2999")
    assert result.exit_code == ExitCode.USAGE
    assert "later than today" in result.output


def test_rerun_of_a_period_never_completed_is_refused_before_connecting(
    cli: Invoke, offline: None
) -> None:
    """--rerun needs a period this tool completed; it says so without any network call."""
    result = cli("run-monthly", "--rerun", "2024-10")
    assert result.exit_code == ExitCode.USAGE
    assert "has not been completed" in result.output


# -- against the sandbox on 127.0.0.1 ----------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(20, seed=4)


READY = "run_monthly.ready"
"""The name ``ready``'s set-up is kept under (tests/cli/set_up_once.py)."""


@pytest.fixture
def ready(
    seed: dict[str, Any],
    isolated_home: Path,
    memory_keyring: Any,
    write_config: Callable[[str], Path],
    cli: Invoke,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    """Connected to both sandbox servers, every field mapped, clients imported and linked:
    set up once per worker, each test gets its own copy of world, home and keyring
    (tests/cli/set_up_once.py)."""
    with set_up_once(
        READY,
        seed,
        lambda sandbox: set_up_ready(sandbox, write_config, cli),
        home=isolated_home,
        secrets=memory_keyring.secrets,
        keep_in=lambda: tmp_path_factory.mktemp("ready"),
    ) as running:
        yield running


def set_up_ready(sandbox: Running, write_config: Callable[[str], Path], cli: Invoke) -> None:
    """What ``ready`` does through the CLI: config, secrets, import-clients, confirm."""
    fields_toml = "\n".join(
        f'{key} = "{name}"'
        for key, name in zip(
            (
                "payments_created",
                "payments_updated",
                "purchase_invoices_created",
                "purchase_invoices_updated",
                "sales_invoices_created",
                "sales_invoices_updated",
                "financial_entries_created",
                "financial_entries_updated",
                "expense_lines_created",
                "expense_lines_updated",
                "depreciation_entries_created",
                "depreciation_entries_updated",
                "active_reporting_persons",
                "depreciable_fixed_assets",
            ),
            COUNT_FIELD_NAMES,
            strict=True,
        )
    )
    write_config(
        sandbox_config(sandbox)
        + '\n[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
        'first_import_date = 2024-10-01\nschedule = "last_calendar_day"\n\n'
        f"[fields]\n{fields_toml}\n"
    )
    store_sandbox_secrets(sandbox, open_store("keyring"))
    staged = cli("import-clients")
    assert staged.exit_code == 0, staged.output
    confirmed = confirm_all(cli)
    assert confirmed.exit_code in (0, ExitCode.PARTIAL), confirmed.output
    assert load_state().links


def summary_tasks(sandbox: Running) -> list[dict[str, Any]]:
    return [
        t for t in sandbox.world.uku_state()["tasks"] if t["title"].startswith("Monthly summary")
    ]


def test_import_day_under_cron_is_silent_and_leaves_a_record(cli: Invoke, ready: Running) -> None:
    """--quiet on an import day: no output, one task per linked and readable client, history."""
    viewable = {
        link.uku_client_id
        for link in load_state().links.values()
        if link.trigon_id not in ready.world.seed.trigon.users[0].deny_view
    }
    result = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert result.exit_code in (0, ExitCode.PARTIAL), result.output
    assert Counter(t["client_id"] for t in summary_tasks(ready)) == Counter(viewable)
    state = load_state()
    record = state.history[-1]
    assert record.command == "run-monthly"
    assert record.details["periods"] == ["2024-10"]
    assert record.details["tasks_created"] == len(viewable)
    log = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    assert "run-monthly run today=2024-10-31 periods=2024-10" in log
    assert SANDBOX_UKU_KEY not in log and SANDBOX_PASSWORD not in log


def test_a_full_disk_during_renewal_costs_one_night_not_the_login(
    cli: Invoke, ready: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Night 1 on a full disk (file token store) renews the token and cannot save anything:
    exit 8. Once space is back, night 2 writes the tasks with no `connect` in between."""
    config = paths.config_file()
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[trigon]\n", '[trigon]\ntoken_store = "file"\n'), "utf-8")
    store_sandbox_secrets(ready, open_store("file"))
    disk = FullDisk(paths.home_dir(), monkeypatch)
    disk.fill()
    night1 = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert night1.exit_code == ExitCode.STATE, night1.output
    assert "No space left on device" in night1.stderr
    assert not summary_tasks(ready)
    disk.free()
    night2 = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert night2.exit_code in (0, ExitCode.PARTIAL), night2.output
    assert summary_tasks(ready)


def test_revoked_view_exits_partial_naming_the_client_then_completes(
    cli: Invoke, ready: Running
) -> None:
    """No View on a linked firm: exit 5 naming it and the pair it owes, the window moves
    on; after restoring View the next run makes the owed task."""
    links = load_state().links
    for firm_id in links:
        ready.world.restore_view(firm_id)
    victim = links[sorted(links)[0]]
    ready.world.revoke_view(victim.trigon_id)
    result = cli("run-monthly", "--today", "31.10.2024")
    assert result.exit_code == ExitCode.PARTIAL
    assert victim.name in result.output and "View" in result.output
    [owed_line] = [line for line in result.stderr.splitlines() if line.startswith("owed: ")]
    assert victim.name in owed_line and "period 2024-10, owed for 0 days" in owed_line
    assert str(load_state().last_period_end) == "2024-10-30"
    ready.world.restore_view(victim.trigon_id)
    again = cli("run-monthly", "--today", "31.10.2024")
    assert again.exit_code == 0, again.output
    assert "2024-10" in again.output and "owed tasks made late" in again.output
    assert str(load_state().last_period_end) == "2024-10-30"
    per_client = Counter(t["client_id"] for t in summary_tasks(ready))
    assert sorted(per_client) == sorted(link.uku_client_id for link in links.values())
    assert set(per_client.values()) == {1}


def test_dry_run_json_writes_nothing(cli: Invoke, ready: Running) -> None:
    """--dry-run --json: no Uku write, state.toml byte-identical, and the real run's story:
    the firms without View fail and owe both periods, and the exit code is 5."""
    before = paths.state_file().read_bytes()
    ready.world.clear_logs()
    result = cli("run-monthly", "--today", "30.11.2024", "--dry-run", "--json")
    assert result.exit_code == ExitCode.PARTIAL, result.output
    doc = json.loads(result.stdout)
    assert [p["period"] for p in doc["periods"]] == ["2024-10", "2024-11"]
    assert doc["deferred"] == []
    assert {c["action"] for p in doc["periods"] for c in p["clients"]} <= {"create", "skip"}
    assert len(doc["clients_failed"]) == 4
    assert sorted(p["period"] for p in doc["owed"]) == ["2024-10", "2024-10", "2024-11", "2024-11"]
    assert all("View" in f["reason"] for f in doc["clients_failed"])
    assert ready.world.writes() == []
    assert paths.state_file().read_bytes() == before


def test_dry_run_table_shows_actions_and_counts(
    cli: Invoke, ready: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The human plan fits 80 columns: each client's action, its counts under Uku's field
    names, and a totals line whose sums are the clients' counts added up."""
    from trigon_sync.cli import output

    monkeypatch.setattr(output.stdout, "width", 80)
    monkeypatch.setattr(output.stdout, "_force_terminal", True)  # a person's 80 columns
    result = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    assert result.exit_code == ExitCode.PARTIAL, result.output  # two firms without View
    assert "2024-10: import day 31.10.2024" in result.stdout
    assert "create" in result.stdout and "fail" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    flat = " ".join(result.stdout.split())
    assert all(f"{name} " in flat for name in COUNT_FIELD_NAMES[:3])
    doc = json.loads(cli("run-monthly", "--today", "31.10.2024", "--dry-run", "--json").stdout)
    [period] = doc["periods"]
    first = COUNT_FIELD_NAMES[0]  # payments_created's Uku field
    total = sum(c["counts"].get("payments_created", 0) for c in period["clients"])
    totals = result.stdout.split("Totals: ")[1]
    assert f"{first} {total}," in " ".join(totals.split())


def test_dry_run_json_says_dry_run_and_names_the_firm(cli: Invoke, ready: Running) -> None:
    """Each client row carries its Trigon firm id, and the document says it is a dry run."""
    doc = json.loads(cli("run-monthly", "--today", "31.10.2024", "--dry-run", "--json").stdout)
    assert doc["dry_run"] is True
    links = load_state().links
    rows = doc["periods"][0]["clients"]
    assert {row["trigon_id"] for row in rows} == set(links)
    assert all(
        row["registration_code"] == links[row["trigon_id"]].registration_code for row in rows
    )


def test_preview_counts_the_open_window_up_to_yesterday_and_writes_nothing(
    cli: Invoke, ready: Running
) -> None:
    """On 20.10.2024 the October window so far is 01.10–19.10; nothing reaches Uku or state."""
    before = paths.state_file().read_bytes()
    ready.world.clear_logs()
    result = cli("run-monthly", "--today", "20.10.2024", "--preview", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["dry_run"], doc["preview"]) == (True, True)
    [period] = doc["periods"]
    assert (period["period"], period["window_start"], period["window_end"]) == (
        "2024-10",
        "2024-10-01",
        "2024-10-19",
    )
    full = json.loads(cli("run-monthly", "--today", "31.10.2024", "--dry-run", "--json").stdout)
    so_far = {c["trigon_id"]: c["counts"] for c in period["clients"]}
    whole = {c["trigon_id"]: c["counts"] for c in full["periods"][0]["clients"]}
    assert all(so_far[f].get(k, 0) <= n for f in whole for k, n in whole[f].items())
    assert ready.world.writes() == []
    assert paths.state_file().read_bytes() == before
    early = cli("run-monthly", "--today", "01.10.2024", "--preview")
    assert early.exit_code == ExitCode.USAGE
    assert "no day of the next window is over yet" in early.stderr


def test_quiet_cron_mail_names_each_owed_pair_once(cli: Invoke, ready: Running) -> None:
    """--quiet with a client without View and two due periods: both periods run for the
    others; stderr has one line per owed (client, period) with its reason and age (what
    the invoices miss), no second copy as ``failed:`` or in the error line, which is a
    summary; stdout nothing."""
    links = load_state().links
    for firm_id in links:
        ready.world.restore_view(firm_id)
    victim = links[sorted(links)[0]]
    ready.world.revoke_view(victim.trigon_id)
    result = cli("run-monthly", "--today", "30.11.2024", "--quiet")
    assert result.exit_code == ExitCode.PARTIAL
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert not [line for line in lines if line.startswith("failed: ")]
    owed = [line for line in lines if line.startswith("owed: ")]
    code = victim.registration_code
    assert [line.split(":")[1] for line in owed] == [
        f" {victim.name} ({code}) period 2024-10, owed for 0 days",
        f" {victim.name} ({code}) period 2024-11, owed for 0 days",
    ]
    assert all("View" in line for line in owed)
    assert not [line for line in lines if line.startswith("held back: ")]
    # one client in two periods: counted as pairs, each named once above
    assert lines[-1].startswith(
        "error: 2 (client, period) pair(s) owed in 2024-10, 2024-11; each is named above"
    )
    assert victim.name not in lines[-1]


def test_a_night_that_fails_still_names_each_owed_pair_in_cron_mail(
    cli: Invoke, ready: Running
) -> None:
    """A night the run cannot work (Uku refuses the key) still mails one line per owed
    (client, period) before the error: the pairs are what the invoices miss, and a
    failing night is exactly when nobody looks at `status`."""
    links = load_state().links
    for firm_id in links:
        ready.world.restore_view(firm_id)
    victim = links[sorted(links)[0]]
    ready.world.revoke_view(victim.trigon_id)
    first = cli("run-monthly", "--today", "30.11.2024", "--quiet")
    assert first.exit_code == ExitCode.PARTIAL, first.output
    ready.set_faults("uku", echo_status=403)
    failing = cli("run-monthly", "--today", "31.12.2024", "--quiet")
    assert failing.exit_code == ExitCode.PERMISSION, failing.output
    lines = failing.stderr.splitlines()
    code = victim.registration_code
    owed = [line for line in lines if line.startswith("owed: ")]
    assert [line.split(":")[1] for line in owed] == [
        f" {victim.name} ({code}) period 2024-10, owed for 31 days",
        f" {victim.name} ({code}) period 2024-11, owed for 31 days",
    ]
    assert lines[-1].startswith("error: ")


def test_a_mistyped_home_is_not_created(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run-monthly on a home that does not exist says what to set up and creates nothing."""
    missing = tmp_path / "no" / "such" / "home"
    monkeypatch.setenv(paths.ENV_HOME, str(missing))
    result = cli("run-monthly")
    assert result.exit_code == ExitCode.CONFIG, result.output
    assert not (tmp_path / "no").exists()


def test_folders_made_inside_a_new_home_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written deep in a home that does not exist yet leaves every folder 0700."""
    home = tmp_path / "home"
    monkeypatch.setenv(paths.ENV_HOME, str(home))
    paths.ensure_dir(paths.register_dir() / "cache")
    for folder in (home, home / "register", home / "register" / "cache"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


def test_a_task_deleted_in_uku_while_the_period_is_open_is_reported_and_made_again(
    cli: Invoke, ready: Running
) -> None:
    """The issue's night 2: a person deleted a client's task after night 1 left a client
    owing the period (retried on the next night, which lists the period's tasks). The
    dry run says it would repair it, the real run makes it again once and says
    so (also in --json), and explain names the new task and what became of the old one."""
    from trigon_sync.store.config_file import edit_config

    with edit_config() as raw:  # the contract sandbox lists a create at once: no 30 s wait
        raw["uku"]["settle_seconds"] = 1
    links = load_state().links
    for firm_id in links:
        ready.world.restore_view(firm_id)
    victim, deleted = (links[firm] for firm in sorted(links)[:2])
    ready.world.revoke_view(victim.trigon_id)
    assert cli("run-monthly", "--today", "31.10.2024").exit_code == ExitCode.PARTIAL
    ready.world.restore_view(victim.trigon_id)
    [gone] = [t["id"] for t in summary_tasks(ready) if t["client_id"] == deleted.uku_client_id]
    ready.world.delete_task(gone)

    plan = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert f"would repair: task {gone} for {deleted.name}" in plan.output
    assert not [t for t in summary_tasks(ready) if t["client_id"] == deleted.uku_client_id]

    result = cli("run-monthly", "--today", "31.10.2024", "--json")
    assert result.exit_code == 0, result.output
    [made] = [t["id"] for t in summary_tasks(ready) if t["client_id"] == deleted.uku_client_id]
    [repair] = json.loads(result.stdout)["repaired"]
    assert (repair["task"], repair["found"], repair["task_now"]) == (gone, "deleted", made)
    assert f"repaired: task {gone} for {deleted.name}" in result.output
    assert f"created again as task {made}" in result.output
    per_client = Counter(t["client_id"] for t in summary_tasks(ready))
    assert set(per_client.values()) == {1} and len(per_client) == len(links)

    told = cli("explain", deleted.trigon_id, "--period", "2024-10")
    assert told.exit_code == 0, told.output
    assert f"Uku task {made} holds the counts" in told.output
    assert f"it replaces task {gone}" in told.output


def test_dry_run_names_each_failing_client_and_period_once_with_its_reason(
    cli: Invoke, ready: Running
) -> None:
    """Two firms without View: the dry run's text says each (client, period) with its
    reason on one line (its owed: line), the table marks it ``fail``, and the error line
    is a summary, not a third copy; the exit code is the real run's."""
    links = load_state().links
    result = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    assert result.exit_code == ExitCode.PARTIAL, result.output
    doc = json.loads(cli("run-monthly", "--today", "31.10.2024", "--dry-run", "--json").stdout)
    failing = [links[f["firm"]] for f in doc["clients_failed"]]
    assert len(failing) == 2 and all("View" in f["reason"] for f in doc["clients_failed"])
    lines = result.output.splitlines()
    for link in failing:
        said = [line for line in lines if link.name in line and "View" in line]
        assert len(said) == 1, said
        assert said[0].startswith(f"owed: {link.name} ({link.registration_code}) period 2024-10")
    assert lines[-1].startswith("error: 2 (client, period) pair(s) owed in 2024-10; each is named")


def test_a_restored_home_says_so_in_the_dry_run_and_once_in_the_quiet_run(
    cli: Invoke, ready: Running
) -> None:
    """A home restored from a backup (its records carry the snapshot's mark): the dry run
    shows each create as one the real run makes only if Uku does not list the task after
    its wait, and says why; the real run under cron (--quiet) prints one note line, which
    the log and --json carry too."""
    from trigon_sync.store import records_db, restore_mark
    from trigon_sync.store.config_file import edit_config

    with edit_config() as raw:  # a short wait on the real clock
        raw["uku"]["settle_seconds"] = 0.2
    # three runs' counts in one minute: Trigon's rate limit would pace them for a minute
    ready.set_faults("trigon", trigon_limit=100_000)
    for firm_id in load_state().links:
        ready.world.restore_view(firm_id)
    taken = dt.datetime(2024, 11, 1, 3, 40, tzinfo=TALLINN)
    records_db.forget_shared()
    assert restore_mark.mark_copy(paths.records_file(), taken)  # as `backup` marks its copy
    unless = (
        "unless Uku lists it after the wait "
        "(the home was restored from a backup taken 01.11.2024 03:40)"
    )

    plan = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    assert plan.exit_code == 0, plan.output
    flat = " ".join(plan.stdout.split())
    assert f"client(s) in the table, each {unless}:" in flat
    assert "create (" in flat.split("Totals: ")[1]
    assert "note: restored from a backup taken 01.11.2024 03:40: the real run waits" in plan.output
    doc = json.loads(cli("run-monthly", "--today", "31.10.2024", "--dry-run", "--json").stdout)
    [period] = doc["periods"]
    assert {(c["action"], c["reason"]) for c in period["clients"]} == {("create", unless)}
    assert doc["notes"] == [
        "restored from a backup taken 01.11.2024 03:40: the real run waits up to 0.2 s for "
        "Uku to list what the earlier home created, adopts each task it finds and creates "
        "only the rest"
    ]

    said = (
        "note: restored from a backup taken 01.11.2024 03:40: waiting up to 0.2 s for Uku "
        "to list what the earlier home created before creating anything"
    )
    result = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert result.exit_code == 0, result.output
    assert [line for line in result.output.splitlines() if line.startswith("note:")] == [said]
    log = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    assert said in " ".join(log.split())
    per_client = Counter(t["client_id"] for t in summary_tasks(ready))
    assert set(per_client.values()) == {1} and len(per_client) == len(load_state().links)
