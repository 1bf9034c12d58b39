"""What people read about owed (client, period) pairs (issue 22, item 3): since when a
pair is owed (the run's Tallinn date, ``--today`` on a replayed night) and for how long,
in the run's lines, ``status``, ``history`` and ``explain``; and ``report`` marking the
tasks made late with both their dates (item 2)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from monthly_env import Env
from typer.testing import CliRunner

from trigon_sync.cli import output
from trigon_sync.cli.app import app
from trigon_sync.health.status import status
from trigon_sync.store import owed
from trigon_sync.store.state import load_state

D = dt.date


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code in (0, 5), result.output
    return result


def test_a_pair_is_owed_since_the_runs_day_in_every_view(
    env36: Env, seed36: dict[str, Any]
) -> None:
    """A night replayed with --today 31.10.2024 records its failed pairs as owed since that
    date (not the machine's clock): the run's lines, the records, status, history and
    explain all say 31.10.2024, and a month later all count the same 30 days from it."""
    denied = sorted(seed36["anomalies"]["no_view"])
    october = env36.run(D(2024, 10, 31))
    assert [p.since for p in october.owed] == ["2024-10-31", "2024-10-31"]
    assert [p.since for p in owed.pairs()] == ["2024-10-31", "2024-10-31"]

    november = env36.run(D(2024, 11, 30))
    lines = [p.line(november.today) for p in november.owed if p.period == "2024-10"]
    assert len(lines) == 2 and all("owed for 30 days" in line for line in lines)
    rows = status(D(2024, 11, 30)).owed
    assert {(r.trigon_id, r.period, r.owed_since, r.owed_days) for r in rows} == {
        *((firm, "2024-10", "2024-10-31", 30) for firm in denied),
        *((firm, "2024-11", "2024-11-30", 0) for firm in denied),
    }
    said = " ".join(CliRunner().invoke(app, ["status"]).stdout.split())  # (not connected)
    links = {link.trigon_id: link for link in load_state().links.values()}
    for firm in denied:
        who = f"{links[firm].name} ({links[firm].registration_code})"
        assert f"{who} 2024-10, owed since 31.10.2024 (" in said  # days up to the real today
        assert f"{links[firm].name} 2024-11: no View" in said  # the last run's failures
    record = load_state().history[-1]
    assert {(o["period"], o["owed_since"], o["owed_days"]) for o in record.details["owed"]} == {
        ("2024-10", "2024-10-31", 30),
        ("2024-11", "2024-11-30", 0),
    }

    explained = json.loads(_cli("explain", denied[0], "--json").stdout)
    assert explained["state"]["standing"] == "owes_period"
    assert explained["state"]["since"] == "2024-10-31"
    [answer] = [p for p in explained["periods"] if p["period"] == "2024-10"]
    assert answer["verdict"] == "owed" and "owed since 31.10.2024" in answer["reason"]


def test_history_lists_the_pairs_each_run_left_owed(env36: Env, seed36: dict[str, Any]) -> None:
    """history's table names, per run, each owed pair with its period, since when, how
    long and why (the --json already had them)."""
    links = {link.trigon_id: link for link in load_state().links.values()}
    denied = sorted(seed36["anomalies"]["no_view"])
    env36.run(D(2024, 10, 31))
    env36.run(D(2024, 11, 30))
    text = " ".join(_cli("history", "--limit", "2").stdout.split())
    for firm in denied:
        who = f"{links[firm].name} ({links[firm].registration_code})"
        assert f"owed {who} period 2024-10, owed since 31.10.2024 (30 days): no View" in text
        assert f"owed {who} period 2024-11, owed since 30.11.2024 (0 days): no View" in text
        assert f"owed {who} period 2024-10, owed since 31.10.2024 (0 days): no View" in text


def test_report_marks_the_tasks_made_late_with_both_dates(
    env36: Env, seed36: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that owed October gets its task on 30.11.2024: in Uku it carries
    October's import day, and report (table, CSV, JSON) marks it as made late with both
    dates; the tasks made on time, and its own November task, are not marked."""
    links = {link.trigon_id: link for link in load_state().links.values()}
    late_firm, still = sorted(seed36["anomalies"]["no_view"])
    env36.run(D(2024, 10, 31))
    env36.world.restore_view(late_firm)
    env36.run(D(2024, 11, 30))
    [task] = [
        t
        for t in env36.tasks()
        if t["client_id"] == links[late_firm].uku_client_id and t["title"].endswith("2024-10")
    ]
    assert task["date"] == "2024-10-31"  # the import day, not the day it was made

    doc = json.loads(_cli("report", "--period", "2024-10", "--format", "json").stdout)
    late = {row["trigon_id"]: row["late"] for row in doc["rows"] if row["late"] is not None}
    assert late == {
        late_firm: {
            "import_day": "2024-10-31",
            "created_on": "2024-11-30",
            "owed_since": "2024-10-31",
        }
    }
    assert len(doc["rows"]) == 35 and still not in {row["trigon_id"] for row in doc["rows"]}

    monkeypatch.setattr(output.stdout, "width", 200)  # one table line per row
    table = CliRunner().invoke(app, ["report", "--period", "2024-10"])
    [line] = [ln for ln in table.stdout.splitlines() if links[late_firm].name in ln]
    assert "⏱ 30.11.2024 (import day 31.10.2024)" in line
    assert "Created late" in table.stdout

    raw = _cli("report", "--period", "2024-10", "--format", "csv").stdout.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw), delimiter=";"))
    marked = {r["Registration code"]: (r["Import day"], r["Created on"]) for r in rows}
    code = links[late_firm].registration_code
    assert marked[code] == ("31.10.2024", "30.11.2024")
    assert [r["Registration code"] for r in rows if r["Created late"] == "yes"] == [code]

    november = json.loads(_cli("report", "--period", "2024-11", "--format", "json").stdout)
    assert all(row["late"] is None for row in november["rows"])
