"""`report` and `accept` through the CLI, after real monthly runs against the sandbox.

The demo's own steps (cli/demo.py) are replayed in-process, so "after the demo's three
months" means exactly what `trigon-sync sandbox demo` does; the report is then compared with
the tasks the sandbox's Uku holds, not with anything trigon-sync computed.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke
from trigon_sync.cli.demo import _steps
from trigon_sync.cli.report_cmd import sparkline
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import FaultConfig, Running, SandboxWorld, generate_seed, run_sandbox
from trigon_sync.sandbox.register_file import write_register_zip
from trigon_sync.settings import fields
from trigon_sync.store import ledger, paths
from trigon_sync.store.state import load_state

UNLIMITED = FaultConfig(trigon_limit=100_000, uku_read_limit=100_000, uku_write_limit=100_000)
CUTOFF = dt.date(2024, 10, 31)
"""The November window starts here: the dropped client has no activity from this day on."""


def demo_seed() -> dict[str, Any]:
    return generate_seed(20, seed=0)  # what `sandbox demo` serves


def _local(stamp: str) -> dt.date:
    return dt.datetime.fromisoformat(stamp).astimezone(dt.timezone(dt.timedelta(hours=2))).date()


def losing_seed() -> tuple[dict[str, Any], str]:
    """The demo's world, but its busiest readable firm loses every record from November on."""
    seed = copy.deepcopy(demo_seed())
    trigon = seed["trigon"]
    denied = set(seed["anomalies"]["no_view"])
    october = [
        r["firm"]
        for r in trigon["records"]
        if r["firm"] not in denied and _local(r["created_at"]) < CUTOFF
    ]
    firm = max(sorted(set(october)), key=october.count)
    last = (CUTOFF - dt.timedelta(days=1)).isoformat()
    kept = []
    for r in trigon["records"]:
        if r["firm"] == firm and _local(r["created_at"]) >= CUTOFF:
            continue
        if r["firm"] == firm and _local(r["updated_at"]) >= CUTOFF:
            r["updated_at"] = r["created_at"]
        kept.append(r)
    trigon["records"] = kept
    for name, start, end in (
        ("reporting_persons", "active_from", "active_to"),
        ("fixed_assets", "depreciation_start", "depreciation_end"),
    ):
        rows = []
        for row in trigon[name]:
            if row["firm"] == firm:
                if row[start] > last:
                    continue
                if row[end] is None or row[end] > last:
                    row[end] = last
            rows.append(row)
        trigon[name] = rows
    return seed, firm


def serve(seed: dict[str, Any]) -> Iterator[Running]:
    with run_sandbox(SandboxWorld(seed), faults=UNLIMITED) as running:
        yield running


@pytest.fixture
def demo_world() -> Iterator[Running]:
    yield from serve(demo_seed())


@pytest.fixture
def losing_world() -> Iterator[tuple[Running, str]]:
    seed, firm = losing_seed()
    for running in serve(seed):
        yield running, firm


def demo_steps(running: Running, tmp_path: Path) -> list[Any]:
    """The demo's steps for this sandbox (same register file, same skipped firms)."""
    seed = running.world.seed
    zip_path = tmp_path / "register.zip"
    write_register_zip([dict(r) for r in seed.register], zip_path)
    denied = set(seed.trigon.users[0].deny_view)
    codes = sorted(
        f.registration_code for f in seed.trigon.firms if f.id in denied and f.registration_code
    )
    info = {
        **running.world.credentials(),
        "trigon_url": running.trigon_url,
        "uku_url": running.uku_url,
    }
    # the demo points import-clients at the sandbox's served register; here the file is given
    return [
        dataclasses.replace(step, args=(*step.args, "--register", str(zip_path)))
        if step.args[0] == "import-clients"
        else step
        for step in _steps(info, codes)
    ]


def replay(cli: Invoke, steps: list[Any]) -> None:
    for step in steps:
        result = cli(*step.args, stdin=step.stdin)
        assert result.exit_code in step.expect, (step.args, result.output)


def set_up(cli: Invoke, running: Running, tmp_path: Path) -> None:
    """connect, connect-uku, import-clients, confirm, map-fields: the demo up to cron."""
    replay(cli, [s for s in demo_steps(running, tmp_path) if s.args[0] != "run-monthly"][:5])


def uku_holds(running: Running) -> dict[tuple[str, str], dict[str, int]]:
    """(registration code, period) -> Uku field name -> value, from the sandbox's tasks."""
    names = {f["id"]: f["name"] for f in running.world.uku.custom_fields}
    codes = {link.uku_client_id: link.registration_code for link in load_state().links.values()}
    held: dict[tuple[str, str], dict[str, int]] = {}
    for task in running.world.uku_state()["tasks"]:
        if not task["title"].startswith("Monthly summary "):
            continue
        period = task["title"].rsplit(" ", 1)[-1]
        held[(codes[task["client_id"]], period)] = {
            names[cf["field_id"]]: cf["value"] for cf in task["custom_fields"]
        }
    return held


def read_csv(raw: bytes, separator: str = ";") -> list[dict[str, str]]:
    assert raw.startswith("\ufeff".encode()), "no UTF-8 BOM: Excel would garble õ, ä, ö, ü"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=separator))


def test_report_after_the_demo_months_equals_what_uku_holds(
    cli: Invoke, demo_world: Running, tmp_path: Path
) -> None:
    """The acceptance: one CSV row per client and period, Uku field names as columns, and
    every count equal to the sandbox's stored task; the other formats say the same."""
    replay(cli, demo_steps(demo_world, tmp_path))
    result = cli("report", "--from", "2024-10", "--to", "2024-12", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = read_csv(result.stdout_bytes)
    header = list(rows[0])
    labels = [f.label_en for f in fields.FIELDS]
    late = ["Created late", "Import day", "Created on"]  # filled for tasks made late
    assert header == ["Period", "Client", "Registration code", *labels, *late, "Flags"]
    clients = [r for r in rows if r["Registration code"]]
    got = {
        (r["Registration code"], r["Period"]): {name: int(r[name]) for name in labels}
        for r in clients
    }
    assert len(got) == len(clients)  # one row per client and period
    expected = uku_holds(demo_world)
    assert {period for _, period in expected} == {"2024-10", "2024-11", "2024-12"}
    assert got == expected
    names = {r["Client"] for r in clients}
    assert "Nõmme Mööbel OÜ" in names  # Estonian letters intact
    totals = {r["Period"]: r for r in rows if r["Client"] == "Total"}
    for period in ("2024-10", "2024-11", "2024-12"):
        for name in labels:
            assert int(totals[period][name]) == sum(
                v[name] for (_, p), v in expected.items() if p == period
            )
    change = next(
        r for r in rows if r["Client"] == "Change vs previous month" and r["Period"] == "2024-12"
    )
    first = labels[0]
    assert int(change[first]) == int(totals["2024-12"][first]) - int(totals["2024-11"][first])
    _comma_json_and_table_agree_and_need_no_network(cli, demo_world, tmp_path)


def _comma_json_and_table_agree_and_need_no_network(
    cli: Invoke, demo_world: Running, tmp_path: Path
) -> None:
    """--separator , writes a comma CSV; JSON has the same rows; the report leaves both
    servers untouched (it reads only the ledger)."""
    demo_world.world.clear_logs()
    target = tmp_path / "counts.csv"
    wrote = cli("report", "--period", "2024-11", "-f", "csv", "--separator", ",", "-o", str(target))
    assert wrote.exit_code == 0, wrote.output
    comma = [r for r in read_csv(target.read_bytes(), ",") if r["Registration code"]]
    doc = json.loads(cli("report", "--period", "2024-11", "--format", "json").stdout)
    assert doc["periods"] == ["2024-11"]
    assert len(doc["rows"]) == len(comma) == len(load_state().links)
    from_json = {
        row["registration_code"]: dict(zip(doc["columns"], row["counts"], strict=True))
        for row in doc["rows"]
    }
    from_csv = {r["Registration code"]: {c: int(r[c]) for c in doc["columns"]} for r in comma}
    assert from_json == from_csv
    assert all(
        row["change"] is not None and len(row["change"]) == len(doc["columns"])
        for row in doc["rows"]
    )  # October was written before
    table = cli("report", "--period", "2024-11")
    assert table.exit_code == 0, table.output
    assert "Totals written to Uku" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    assert demo_world.world.requests("trigon") == demo_world.world.requests("uku") == []


def test_a_client_losing_its_records_is_flagged_and_held_until_accepted(
    cli: Invoke, losing_world: tuple[Running, str], tmp_path: Path
) -> None:
    """All counts zero after an active October: flagged in the dry run; with hold on, its
    task is not written, the period stays open and status says so; accept releases it."""
    running, firm = losing_world
    set_up(cli, running, tmp_path)
    october = cli("run-monthly", "--today", "31.10.2024")
    assert october.exit_code == 0, october.output
    link = load_state().links[firm]
    mark = f"flag: 2024-11 {link.name} ({link.registration_code}): every count is 0"
    ahead = cli("accept", link.registration_code, "--period", "2024-11")  # never held
    assert ahead.exit_code == ExitCode.USAGE, ahead.output
    assert "was not held for review in 2024-11" in ahead.output
    assert "nothing was recorded" in ahead.output and "Accepted" not in ahead.output
    assert all(r.command != "accept" for r in load_state().history)

    dry = cli("run-monthly", "--today", "30.11.2024", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert mark in dry.stderr
    assert sum(1 for line in dry.stderr.splitlines() if line.startswith("flag:")) == 1

    with paths.config_file().open("a", encoding="utf-8") as config:
        config.write("\n[anomalies]\nhold = true\n")
    dry_held = cli("run-monthly", "--today", "30.11.2024", "--dry-run")
    assert f"{mark}" in dry_held.stderr and "held, not written" in dry_held.stderr
    held = cli("run-monthly", "--today", "30.11.2024")
    assert held.exit_code == ExitCode.PARTIAL
    assert "1 held for review" in held.stdout and "failed" not in held.stdout.split("—")[0]
    held = cli("run-monthly", "--today", "30.11.2024", "--quiet")
    assert held.exit_code == ExitCode.PARTIAL and held.stdout == ""
    assert mark in held.stderr and "held" in held.stderr  # cron mails stderr
    assert f"accept {link.registration_code} --period 2024-11" in held.stderr
    assert (link.registration_code, "2024-11") not in uku_holds(running)
    assert load_state().last_period == "2024-11"  # the window moved on; the client owes it
    status = cli("status")
    assert status.exit_code == ExitCode.PARTIAL
    assert "held for review" in status.stdout

    accepted = cli("accept", link.registration_code, "--period", "2024-11")
    assert accepted.exit_code == 0, accepted.output
    assert "Accepted" in accepted.stdout and "not held" not in accepted.stdout
    done = cli("run-monthly", "--today", "30.11.2024")
    assert done.exit_code == 0, done.output
    assert mark in done.stderr  # still flagged in the run summary, but written
    assert uku_holds(running)[(link.registration_code, "2024-11")] == {
        f.label_en: 0 for f in fields.FIELDS
    }
    assert load_state().last_period == "2024-11"
    report = json.loads(cli("report", "--period", "2024-11", "--format", "json").stdout)
    flagged = [r for r in report["rows"] if r["flags"]]
    assert [(r["trigon_id"], r["flags"][0]["kind"]) for r in flagged] == [(firm, "drop")]
    after = json.loads(cli("status", "--json").stdout)
    assert [row["trigon_id"] for row in after["anomalies"]] == [firm]
    check = next(c for c in after["checks"] if c["name"] == "counts.anomalies")
    assert check["status"] == "warn" and link.name in check["detail"]


def test_without_hold_the_flagged_client_is_written_and_named_in_the_summary(
    cli: Invoke, losing_world: tuple[Running, str], tmp_path: Path
) -> None:
    """Hold is off by default: the task is written, the run summary (stderr) names it."""
    running, firm = losing_world
    set_up(cli, running, tmp_path)
    assert cli("run-monthly", "--today", "31.10.2024").exit_code == 0
    result = cli("run-monthly", "--today", "30.11.2024", "--quiet")
    assert result.exit_code == 0, result.output
    link = load_state().links[firm]
    assert f"flag: 2024-11 {link.name}" in result.stderr
    assert (link.registration_code, "2024-11") in uku_holds(running)


def test_report_bad_input_is_one_line(cli: Invoke) -> None:
    """Bad formats, separators and ranges are usage errors, not tracebacks."""
    for args in (
        ("--format", "xlsx"),
        ("--separator", "|"),
        ("--from", "2024-12", "--to", "2024-10"),
        ("--period", "2024-10", "--from", "2024-09"),
        ("--period", "2024-13"),
        ("--chart", "--format", "csv"),
        ("--output", "x.csv"),
    ):
        result = cli("report", *args)
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert "Traceback" not in result.output
    unknown = cli("accept", "99999999", "--period", "2024-10")
    assert unknown.exit_code == ExitCode.USAGE


def _ledger_of_two_clients() -> None:
    """Six months for two clients; Kuuse OÜ drops to zero in the last month."""
    writer = ledger.LedgerWriter()
    mapping = (("sales_invoices_created", "Müügiarved"),)
    at = dt.datetime(2024, 12, 31, 0, 30, tzinfo=dt.UTC)
    for month in range(7, 13):
        period = f"2024-{month:02d}"
        for firm, name, n in (("f1", "Kuuse OÜ", 0 if month == 12 else 40), ("f2", "Tamme AS", 5)):
            writer.write(
                period=period,
                firm=firm,
                registration_code=f"1000000{firm[1]}",
                name=name,
                uku_client=1,
                task=month,
                action="create",
                mapping=mapping,
                counts={"sales_invoices_created": n},
                at=at,
            )


def test_chart_shows_the_office_months_and_a_flagged_client_first(cli: Invoke) -> None:
    """--chart: a bar per month for the office, a sparkline per client, the drop marked."""
    _ledger_of_two_clients()
    result = cli("report", "--from", "2024-07", "--to", "2024-12", "--chart")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "the office" in out
    for month in range(7, 13):
        assert f"2024-{month:02d}" in out
    clients = out[out.index("Per client") :]
    assert clients.index("Kuuse OÜ") < clients.index("Tamme AS")  # flagged first
    assert "2024-12: every count is 0" in clients
    one = cli("report", "--from", "2024-07", "--to", "2024-12", "--chart", "--client", "10000002")
    assert one.exit_code == 0, one.output
    assert "Tamme AS" in one.stdout and "Kuuse" not in one.stdout


def test_sparkline_scales_to_the_largest_month_and_leaves_zero_months_blank() -> None:
    """A drop to zero is a gap, the busiest month the full block."""
    assert sparkline([8, 4, 0, 1]) == "█▄ ▁"
    assert sparkline([0, 0]) == "  "


def test_chart_labels_every_column_and_orders_clients_as_the_table_does(cli: Invoke) -> None:
    """The bar table has no empty unlabelled column (the flag column only when a month is
    flagged, and then named); clients come in the table's order: by name, case aside."""
    writer = ledger.LedgerWriter()
    mapping = (("sales_invoices_created", "Müügiarved"),)
    at = dt.datetime(2024, 12, 31, 0, 30, tzinfo=dt.UTC)
    for firm, name in (("f1", "MTÜ Karu"), ("f2", "Mere Kala OÜ"), ("f3", "aasta OÜ")):
        writer.write(
            period="2024-12",
            firm=firm,
            registration_code=f"1000000{firm[1]}",
            name=name,
            uku_client=1,
            task=1,
            action="create",
            mapping=mapping,
            counts={"sales_invoices_created": 5},
            at=at,
        )
    chart = cli("report", "--period", "2024-12", "--chart")
    table = cli("report", "--period", "2024-12")
    assert chart.exit_code == table.exit_code == 0, chart.output
    header = next(line for line in chart.stdout.splitlines() if "Period" in line)
    cells = [cell.strip() for cell in header.strip("┃ \n").split("┃")]
    assert cells == ["Period", "Counts", "Sum"], cells

    def order(text: str) -> list[str]:
        names = ("aasta OÜ", "Mere Kala OÜ", "MTÜ Karu")
        return sorted(names, key=lambda name: text.index(name))

    assert order(chart.stdout[chart.stdout.index("Per client") :]) == order(table.stdout)
