"""`run-monthly --rerun` shows what a re-count changes, and reloads a range of periods.

Issue 25: the dry run and the real run print, per client, each changed count as
``old -> new`` under its Uku field name and the total change; a range ``FROM..TO`` re-counts
each completed period with the same rules; a task Uku shows as finished is changed only
with ``--include-finished``; a re-count never makes a new task.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import load_state

SALES = "Sales invoice created"
FIELDS = """
[fields]
sales_invoices_created = "Sales invoice created"
payments_created = "Payment created"
"""


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(
        5, seed=7, no_view=0, duplicate_codes=0, bad_check_digits=0, existing_uku_clients=0
    )


@pytest.fixture
def counted(sandbox: Running, write_config: Callable[[str], Path], cli: Invoke) -> Running:
    """Every firm linked and the periods 2024-09, 2024-10 and 2024-11 counted."""
    write_config(
        sandbox_config(sandbox)
        + '\n[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
        'first_import_date = 2024-09-01\nschedule = "last_calendar_day"\n' + FIELDS
    )
    store_sandbox_secrets(sandbox, open_store("keyring"))
    assert cli("import-clients").exit_code == 0
    assert cli("confirm", "--yes").exit_code == 0
    run = cli("run-monthly", "--today", "30.11.2024")
    assert run.exit_code == 0, run.output
    assert load_state().journal.completed.keys() == {"2024-09", "2024-10", "2024-11"}
    return sandbox


def tasks(sandbox: Running) -> dict[tuple[int, str], dict[str, Any]]:
    """(Uku client id, period) -> the summary task."""
    return {
        (t["client_id"], t["title"].rsplit(" ", 1)[1]): t
        for t in sandbox.world.uku_state()["tasks"]
        if t["title"].startswith("Monthly summary")
    }


def field_id(sandbox: Running, name: str) -> int:
    with sandbox.world.lock:
        return next(int(f["id"]) for f in sandbox.world.uku.custom_fields if f["name"] == name)


def held(task: dict[str, Any], fid: int) -> int:
    return int(next(cf["value"] for cf in task["custom_fields"] if cf["field_id"] == fid))


def first_link(sandbox: Running) -> Any:
    return sorted(load_state().links.values(), key=lambda link: link.name)[0]


def test_a_late_november_record_shows_old_to_new_and_the_rerun_writes_exactly_that(
    cli: Invoke, counted: Running
) -> None:
    """A record created in November but added after November's run: the dry run shows the
    field old -> new and the total change; the real re-count writes those values; a record
    created in December is not in November's count."""
    link = first_link(counted)
    fid = field_id(counted, SALES)
    before = held(tasks(counted)[(link.uku_client_id, "2024-11")], fid)
    counted.world.add_record(link.trigon_id, "sales_invoice", "2024-11-15T10:00:00+02:00")
    counted.world.add_record(link.trigon_id, "sales_invoice", "2024-12-02T09:00:00+02:00")
    counted.world.clear_logs()

    dry = cli("run-monthly", "--rerun", "2024-11", "--dry-run")
    assert dry.exit_code == 0, dry.output
    flat = " ".join(dry.stdout.split())
    assert f"{link.name} ({link.registration_code}): {SALES} {before} -> {before + 1} (+1)" in flat
    assert f"Total change in 2024-11: {SALES} +1 (1 client(s) would change)" in flat
    others = len(load_state().links) - 1
    assert f"{others} client(s) unchanged" in flat
    assert counted.world.writes() == []

    as_json = json.loads(cli("run-monthly", "--rerun", "2024-11", "--dry-run", "--json").stdout)
    [period] = as_json["periods"]
    [changed] = [c for c in period["clients"] if c["changes"]]
    assert changed["changes"] == [
        {
            "field": "sales_invoices_created",
            "uku_field": SALES,
            "old": before,
            "new": before + 1,
            "change": 1,
        }
    ]
    assert period["change"]["clients_changed"] == 1
    assert period["change"]["total"] == [
        {"field": "sales_invoices_created", "uku_field": SALES, "change": 1}
    ]

    real = cli("run-monthly", "--rerun", "2024-11")
    assert real.exit_code == 0, real.output
    assert f"{SALES} {before} -> {before + 1} (+1)" in " ".join(real.stdout.split())
    assert held(tasks(counted)[(link.uku_client_id, "2024-11")], fid) == before + 1
    writes = counted.world.writes()
    assert len(writes) == 1 and writes[0]["method"] == "PATCH", writes

    # the December record is December's: the next import day counts it
    december = json.loads(cli("run-monthly", "--today", "31.12.2024", "--dry-run", "--json").stdout)
    [dec] = december["periods"]
    mine = next(c for c in dec["clients"] if c["trigon_id"] == link.trigon_id)
    assert mine["counts"]["sales_invoices_created"] >= 1


def test_a_range_rerun_leaves_a_finished_task_alone_unless_asked_and_never_creates(
    cli: Invoke, counted: Running
) -> None:
    """--rerun 2024-09..2024-11 with a late record in each period and November's task
    finished: two periods updated, the finished task untouched and listed apart; with
    --include-finished it is changed; no task is ever added."""
    link = first_link(counted)
    fid = field_id(counted, SALES)
    for day in ("2024-09-10", "2024-10-10", "2024-11-10"):
        counted.world.add_record(link.trigon_id, "sales_invoice", f"{day}T10:00:00+03:00")
    by_key = tasks(counted)
    old = {p: held(by_key[(link.uku_client_id, p)], fid) for p in ("2024-09", "2024-10", "2024-11")}
    november = by_key[(link.uku_client_id, "2024-11")]["id"]
    with counted.world.lock:
        counted.world.uku.tasks[november]["status"] = "finished"
    how_many = len(by_key)

    dry = cli("run-monthly", "--rerun", "2024-09..2024-11", "--dry-run")
    assert dry.exit_code == 0, dry.output
    flat = " ".join(dry.stdout.split())
    assert [line.split(":")[0] for line in dry.stdout.splitlines() if line[:1] != " "] == [
        "2024-09",
        "2024-10",
        "2024-11",
    ]
    assert f"finished: not changed {link.name}" in flat
    assert f"task {november} ({SALES} {old['2024-11']} -> {old['2024-11'] + 1}" in flat

    real = cli("run-monthly", "--rerun", "2024-09..2024-11", "--json")
    assert real.exit_code == 0, real.output
    doc = json.loads(real.stdout)
    assert doc["rerun"] == "2024-09..2024-11"
    assert [p["change"]["clients_changed"] for p in doc["periods"]] == [1, 1, 0]
    assert [p["change"]["finished_not_changed"] for p in doc["periods"]] == [0, 0, 1]
    after = tasks(counted)
    assert len(after) == how_many
    assert held(after[(link.uku_client_id, "2024-09")], fid) == old["2024-09"] + 1
    assert held(after[(link.uku_client_id, "2024-10")], fid) == old["2024-10"] + 1
    assert held(after[(link.uku_client_id, "2024-11")], fid) == old["2024-11"]

    forced = cli("run-monthly", "--rerun", "2024-09..2024-11", "--include-finished")
    assert forced.exit_code == 0, forced.output
    after = tasks(counted)
    assert len(after) == how_many
    assert held(after[(link.uku_client_id, "2024-11")], fid) == old["2024-11"] + 1


def test_a_range_with_no_completed_period_and_include_finished_alone_are_refused(
    cli: Invoke, counted: Running
) -> None:
    empty = cli("run-monthly", "--rerun", "2023-01..2023-06", "--dry-run")
    assert empty.exit_code == ExitCode.USAGE
    assert "no period from 2023-01 to 2023-06" in empty.stderr
    backwards = cli("run-monthly", "--rerun", "2024-11..2024-09", "--dry-run")
    assert backwards.exit_code == ExitCode.USAGE
    alone = cli("run-monthly", "--include-finished", "--dry-run", "--today", "30.11.2024")
    assert alone.exit_code == ExitCode.USAGE
