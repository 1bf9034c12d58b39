"""`status` and `doctor` through the CLI, against the sandbox served on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from tests.cli.sandbox_home import Invoke, connect_trigon, connect_uku
from trigon_sync import clock
from trigon_sync.errors import ExitCode
from trigon_sync.health.checks import TITLES
from trigon_sync.sandbox import SANDBOX_EMAIL, Running, SandboxWorld, generate_seed, run_sandbox
from trigon_sync.store import paths
from trigon_sync.store.state import ClientLink, locked_state


@pytest.fixture
def sandbox() -> Iterator[Running]:
    """Four firms, all viewable, served on free 127.0.0.1 ports."""
    with run_sandbox(SandboxWorld(generate_seed(4, seed=3))) as running:
        yield running


def summary_settings() -> str:
    """Counting started yesterday, so no import day can be overdue whatever today is."""
    first = clock.today() - dt.timedelta(days=1)
    return (
        "\n[summary]\n"
        'task_title = "Monthly summary {period}"\n'
        'topic = "Bookkeeping"\n'
        'schedule = "last_calendar_day"\n'
        f"first_import_date = {first.isoformat()}\n"
        "\n[fields]\n"
        'sales_invoices_created = "Sales invoice created"\n'
    )


def install(
    cli: Invoke,
    sandbox: Running,
    settings: str,
    firm_ids: list[str] | None = None,
    linked_at: dt.date | None = None,
) -> None:
    """Connect through the CLI (file token store), add ``settings``, link the firms."""
    connected = connect_trigon(cli, sandbox, "--token-store", "file")
    assert connected.exit_code == 0, connected.output
    connected = connect_uku(cli, sandbox)
    assert connected.exit_code == 0, connected.output
    with paths.config_file().open("a", encoding="utf-8") as handle:
        handle.write(settings)
    link(sandbox.world, firm_ids or list(sandbox.world.trigon.firms), linked_at or clock.today())
    sandbox.world.clear_logs()


def link(world: SandboxWorld, firm_ids: list[str], linked_at: dt.date) -> None:
    """Create an Uku client per firm and link it in state, as `confirm` would."""
    with world.lock:
        firms = [world.trigon.firms[firm_id] for firm_id in firm_ids]
        clients = [
            world.uku.create_client({"name": f.name, "registration_code": f.registration_code})[0]
            for f in firms
        ]
    with locked_state() as session:
        for firm, client in zip(firms, clients, strict=True):
            session.state.links[firm.id] = ClientLink(
                firm.id, firm.registration_code or "", firm.name, client["id"], linked_at
            )
        session.save()


@pytest.fixture
def installed(cli: Invoke, sandbox: Running) -> Running:
    """Connected, configured (counting from yesterday), every firm linked."""
    install(cli, sandbox, summary_settings())
    return sandbox


def test_status_makes_no_request(cli: Invoke, installed: Running) -> None:
    """`status --json` reports from local files alone: neither sandbox server sees a request."""
    result = cli("status", "--json")  # its speed is a figure in benchmarks/startup_bench.py
    assert result.exit_code == 0, result.output
    assert installed.world.requests("trigon") == []
    assert installed.world.requests("uku") == []
    doc = json.loads(result.stdout)
    assert doc["healthy"] is True
    assert doc["clients"]["linked"] == len(installed.world.trigon.firms)
    assert doc["connections"]["token_store"]["kind"] == "file"


def test_status_screen_shows_connections_window_and_checks(cli: Invoke, installed: Running) -> None:
    """The human screen names the Trigon user, the next import and every check line."""
    result = cli("status")
    assert result.exit_code == 0, result.output
    assert f"{SANDBOX_EMAIL} at {installed.trigon_url}: connected" in result.stdout
    assert "next import" in result.stdout
    assert "✓ Clients are linked — 4 clients linked" in result.stdout


def test_status_on_an_empty_home_exits_config(cli: Invoke) -> None:
    """Nothing set up: exit 3 and the fix for the first problem on screen."""
    result = cli("status")
    assert result.exit_code == ExitCode.CONFIG
    assert "✗ config.toml is valid — no config file" in result.stdout
    assert "fix: run `trigon-sync connect`" in result.stdout


def test_status_without_a_connection_exits_auth(cli: Invoke) -> None:
    """A config but no stored tokens: exit 4, still one JSON document."""
    paths.ensure_home()
    paths.config_file().write_text(summary_settings(), encoding="utf-8")
    result = cli("status", "--json")
    assert result.exit_code == ExitCode.AUTH
    doc = json.loads(result.stdout)
    assert doc["connections"]["trigon"]["connected"] is False


def test_doctor_passes_on_a_healthy_installation(cli: Invoke, installed: Running) -> None:
    """Everything linked and reachable: exit 0 and every live line is ✓."""
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    assert "✓ Trigon login refresh works" in result.stdout
    assert "✓ Every mapped custom field exists in Uku as a number field" in result.stdout
    assert "0 failed" in result.stdout


def test_doctor_names_a_firm_without_view_and_the_fix(cli: Invoke, installed: Running) -> None:
    """View revoked on a linked firm: ✗ naming it, the fix printed, exit PERMISSION (9)."""
    firm = installed.world.trigon.firms["f3"]
    installed.world.revoke_view("f3")
    result = cli("doctor")
    assert result.exit_code == ExitCode.PERMISSION
    assert "✗ Every linked firm is still listed and viewable in Trigon" in result.stdout
    assert firm.name in result.stdout
    assert "fix: add List and View" in result.stdout


def test_doctor_json_is_one_document_with_every_check(cli: Invoke, installed: Running) -> None:
    """--json: one document; every known check appears once with its status."""
    installed.world.set_uku(plan="solo")
    result = cli("doctor", "--json")
    assert result.exit_code == ExitCode.PERMISSION
    doc = json.loads(result.stdout)
    assert [c["name"] for c in doc["checks"]] == list(TITLES)
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["uku.key"]["status"] == "fail"
    assert by_name["uku.topic"]["status"] == "skip"
    assert doc["status"]["command"] == "status"


OCTOBER_START = """
[summary]
task_title = "Monthly summary {period}"
topic = "Bookkeeping"
schedule = "last_calendar_day"
first_import_date = 2024-10-01

[fields]
sales_invoices_created = "Sales invoice created"
"""


def explain_period(cli: Invoke, client: str, period: str) -> dict:
    result = cli("explain", client, "--period", period, "--json")
    assert result.exit_code == 0, result.output
    [answer] = json.loads(result.stdout)["periods"]
    return answer


def test_explain_and_history_after_real_runs(cli: Invoke, sandbox: Running) -> None:
    """Two run-monthly nights: explain finds a task, a late import and last night's failure."""
    install(cli, sandbox, OCTOBER_START, ["f1", "f2", "f3"], dt.date(2024, 10, 1))
    first = cli("run-monthly", "--today", "2024-10-31", "--quiet")
    assert first.exit_code == 0, first.output
    link(sandbox.world, ["f4"], dt.date(2024, 11, 5))
    sandbox.world.revoke_view("f3")
    second = cli("run-monthly", "--today", "2024-11-30", "--quiet")
    assert second.exit_code == ExitCode.PARTIAL
    tasks = {(t["client_id"], t["title"]): t["id"] for t in sandbox.world.uku_state()["tasks"]}
    with locked_state() as session:
        links = dict(session.state.links)

    with_task = explain_period(cli, links["f1"].registration_code, "2024-10")
    assert with_task["verdict"] == "task"
    assert with_task["task_id"] == tasks[(links["f1"].uku_client_id, "Monthly summary 2024-10")]

    late = explain_period(cli, links["f4"].name, "2024-10")
    assert late["verdict"] == "not_linked"
    assert "linked on 05.11.2024" in late["reason"]
    assert explain_period(cli, links["f4"].name, "2024-11")["verdict"] == "task"

    failed = explain_period(cli, "f3", "2024-11")
    assert failed["verdict"] == "owed"  # the others' period completed; f3 owes it
    assert "View" in failed["reason"] and "trigon-sync waive" in failed["reason"]
    assert explain_period(cli, "f3", "2024-10")["verdict"] == "task"

    screen = cli("explain", "f3", "--period", "2024-11")
    assert "retries this one first" in " ".join(screen.stdout.split())

    history = json.loads(cli("history", "--json").stdout)
    assert [run["result"] for run in history["runs"]] == ["partial", "ok"]
    assert history["runs"][0]["failures"][0]["firm"] == "f3"
    shown = cli("history", "--limit", "1")
    assert "partial" in shown.stdout and links["f3"].name in shown.stdout
    assert "Showing 1 of 2 runs" in shown.stdout

    # status dates the last run the way history does (dd.mm.yyyy hh:mm), not as raw ISO
    when = dt.datetime.fromisoformat(history["runs"][0]["at"]).strftime("%d.%m.%Y %H:%M")
    assert f"Last run    {when}: partial, 1 client(s) failed" in cli("status").stdout


def test_explain_an_ambiguous_name_is_a_usage_error(cli: Invoke, installed: Running) -> None:
    """A name part shared by several clients: exit 2 listing them."""
    result = cli("explain", "O")
    assert result.exit_code == ExitCode.USAGE
    assert "matches" in result.stderr


def test_explain_for_an_unknown_client_is_a_usage_error(cli: Invoke) -> None:
    """README: an unknown name exits 2 with one error line saying how to get it linked."""
    result = cli("explain", "Nobody OÜ")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("error: no firm with the name or id 'Nobody OÜ' is known")
    assert len(result.stderr.splitlines()) == 1


def test_status_with_a_broken_config_says_so_in_words(cli: Invoke) -> None:
    """A config.toml that does not load: the token line says what to fix, no bare None."""
    paths.ensure_home()
    paths.config_file().write_text('[summary]\ntask_titl = "x"\n', encoding="utf-8")
    result = cli("status")
    tokens = next(line for line in result.stdout.splitlines() if line.startswith("Tokens"))
    assert "None" not in tokens and "fix config.toml" in tokens


def test_history_shows_a_recorded_list_of_firms_by_name_and_code() -> None:
    """`history --all` prints confirm's skipped firms as people read them, not as a
    Python list of dicts."""
    from trigon_sync.cli.status_cmd import _shown

    skipped = [
        {"firm": "f10", "name": "Ida Logistika OÜ", "registration_code": "13098911"},
        {"firm": "f19", "name": "Päikese Turva OÜ", "registration_code": "10300890"},
    ]
    assert _shown(skipped) == "Ida Logistika OÜ (13098911), Päikese Turva OÜ (10300890)"
    assert _shown([]) == "none" and _shown(3) == "3"


def test_doctor_names_ignore_for_an_unlinked_firm_and_then_leaves_it_alone(
    cli: Invoke, installed: Running
) -> None:
    """After `unlink`, doctor's ✗ for the unimported firm names `ignore`; once ignored,
    the firm no longer fails that check (run-monthly does not announce it either)."""
    firm = installed.world.trigon.firms["f2"]
    assert cli("unlink", "f2", "--yes").exit_code == 0
    before = " ".join(cli("doctor").stdout.split())
    assert "1 Trigon firm not imported" in before
    assert "`trigon-sync ignore CODE_OR_ID` stops announcing a firm you leave out" in before
    with locked_state() as session:  # what `trigon-sync ignore f2` records (no staged plan)
        session.state.ignored["f2"] = {
            "name": firm.name,
            "registration_code": firm.registration_code,
            "ignored_at": "2024-10-01T00:00:00+03:00",
        }
        session.save()
    after = " ".join(cli("doctor").stdout.split())
    assert "not imported" not in after
