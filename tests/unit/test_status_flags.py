"""status's flagged clients kept in the records database (store/status_flags.py): used only
while the ledger, the [anomalies] settings and the judging code are what they were judged
from; any change to one of them shows at the very next call."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from trigon_sync.cli.app import app
from trigon_sync.health import status
from trigon_sync.monthly.review import HELD
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.store import ledger, owed, paths, records_db, status_flags
from trigon_sync.store.state import ClientLink, locked_state

CONFIG = (
    '[trigon]\nbase_url = "http://127.0.0.1:9/v1"\ntoken_store = "file"\n\n'
    '[uku]\nbase_url = "http://127.0.0.1:9/api/v3"\ncompany = "c1"\n\n'
    '[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
    'first_import_date = 2024-04-01\nschedule = "last_calendar_day"\n\n'
    '[fields]\nsales_invoices_created = "Sales invoice created"\n'
)
AT = dt.datetime(2024, 10, 31, 0, 30, tzinfo=dt.UTC)
MAPPING = (("sales_invoices_created", "Sales invoice created"),)
WIDER = (*MAPPING, ("purchase_invoices_created", "Purchase invoice created"))
STALE = [
    {
        "period": "2024-10", "trigon_id": "f9", "name": "Stale OÜ", "registration_code": "9",
        "task_id": 9, "flags": [
            {"kind": "drop", "field": None, "count": None, "usual": None, "message": "stale"}
        ],
    }
]  # fmt: skip
"""What a kept answer would say had it not been dropped: no judgement says it."""


def write(firm: str, period: str, count: int, mapping: Any = MAPPING) -> None:
    counts = {key: count for key, _ in mapping}
    ledger.LedgerWriter().write(
        period=period, firm=firm, registration_code=f"1000000{firm[-1]}", name=f"Firm {firm}",
        uku_client=100 + int(firm[-1]), task=int(period[-2:]), action="create",
        mapping=mapping, counts=counts, at=AT,
    )  # fmt: skip


def set_up() -> None:
    """Two linked clients with six months each; in 2024-10 f1 spikes, f2 drops to 0."""
    paths.ensure_home()
    paths.config_file().write_text(CONFIG, encoding="utf-8")
    with locked_state() as session:
        for firm in ("f1", "f2"):
            session.state.links[firm] = ClientLink(
                firm, f"1000000{firm[-1]}", f"Firm {firm}", 100 + int(firm[-1]), dt.date(2024, 4, 1)
            )
        session.save()
    for month in range(4, 10):
        write("f1", f"2024-{month:02d}", 10 + month)
        write("f2", f"2024-{month:02d}", 5)
    write("f1", "2024-10", 900)
    write("f2", "2024-10", 0)


def shown() -> list[dict[str, Any]]:
    """The anomalies `status --json` lists now."""
    with freeze_time("2024-11-05 09:00:00"):
        result = CliRunner().invoke(app, ["status", "--json"])
    anomalies: list[dict[str, Any]] = json.loads(result.stdout)["anomalies"]
    return anomalies


def truth(settings: AnomalySettings | None = None) -> list[dict[str, Any]]:
    """The flags judged from the ledger as it is now, nothing kept involved."""
    newest = ledger.newest_period()
    assert newest is not None
    judged = status.judge_flagged(newest, settings or AnomalySettings())
    return json.loads(json.dumps(list(judged)))


def plant_stale() -> None:
    """Make the kept row say something no judgement would: if status shows it, status
    used the kept row (and nothing else)."""
    with sqlite3.connect(records_db.db_file()) as con:
        assert con.execute("UPDATE status_flags SET flagged = ?", (json.dumps(STALE),)).rowcount
    con.close()


def test_kept_flags_serve_until_the_ledger_the_settings_or_the_code_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_up()
    first = shown()
    assert [(r["trigon_id"], r["flags"][0]["kind"]) for r in first] == [
        ("f1", "spike"),
        ("f2", "drop"),
    ]
    assert first == truth()
    assert shown() == first  # the kept answer is the same document
    plant_stale()
    assert shown() == STALE  # read from the kept row, nothing judged

    write("f2", "2024-10", 7)  # a new ledger write: f2 is no longer flagged
    assert shown() == truth() and [r["trigon_id"] for r in truth()] == ["f1"]

    plant_stale()
    paths.config_file().write_text(CONFIG + "\n[anomalies]\nspike_factor = 1000\n", "utf-8")
    assert shown() == [] == truth(AnomalySettings(spike_factor=1000))
    plant_stale()
    paths.config_file().write_text(CONFIG, encoding="utf-8")  # back: the old key
    assert shown() == truth()  # not the stale row kept under that key before

    plant_stale()
    owed.owe("f1", "2024-10", f"{HELD}: a spike", dt.date(2024, 10, 31))  # as a held run leaves it
    plant_stale()
    assert CliRunner().invoke(app, ["accept", "f1", "--period", "2024-10"]).exit_code == 0
    assert shown() == truth()  # an accept moves the generation too

    plant_stale()
    with sqlite3.connect(records_db.db_file()) as con:  # a hand edit in the sqlite3 shell
        con.execute("UPDATE ledger_writes SET counts = '[15]' WHERE period = '2024-10'")
    con.close()
    assert shown() == [] == truth()

    write("f1", "2024-10", 900)
    assert shown() == truth()
    plant_stale()
    monkeypatch.setattr(status_flags, "_code_digest", lambda: "another version")
    assert shown() == truth()  # an upgrade of the judging code


def test_flags_judged_while_the_ledger_changed_are_not_kept() -> None:
    """A write committed between reading the generation and keeping the flags leaves
    nothing kept: the flags may predate it."""
    set_up()
    key = status_flags.key(AnomalySettings())
    before = status_flags.generation()
    assert before is not None
    judged = status.judge_flagged("2024-10", AnomalySettings())
    write("f2", "2024-10", 7)
    assert not status_flags.keep(key, before, judged)
    assert status_flags.recall(key) is None
    assert status_flags.keep(key, status_flags.generation(), judged)
    assert status_flags.recall(key) == judged


def test_the_code_digest_changes_with_any_module_of_the_package(tmp_path: Path) -> None:
    """Editing, adding or removing any module is another key: no list of the modules
    that judge to keep up to date."""
    package = tmp_path / "pkg"
    (package / "billing").mkdir(parents=True)
    judge = package / "billing" / "anomalies.py"
    judge.write_text("SPIKE = 3\n")
    first = status_flags._code_digest(package)
    assert first is not None and status_flags._code_digest(package) == first
    judge.write_text("SPIKE = 30\n")
    edited = status_flags._code_digest(package)
    assert edited != first
    (package / "billing" / "late_tasks.py").write_text("")
    added = status_flags._code_digest(package)
    assert added not in (first, edited)
    (package / "billing" / "late_tasks.py").unlink()
    assert status_flags._code_digest(package) != added
    assert status_flags._code_digest() == status_flags._code_digest()  # the real package
