"""The monthly run's hooks for the billing review: the ledger of writes, flags and holds.

Against the in-process sandbox; what the ledger says is compared with the tasks Uku
stores, and a spike is made by adding real records to the sandbox's Trigon.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from monthly_env import FIELD_NAME, Env, connect, link_firms, make_config, task_counts

from trigon_sync.billing.explain import explain_client
from trigon_sync.billing.explain_records import read_journals
from trigon_sync.sandbox import SandboxWorld
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.store import journal, ledger, paths, records_db
from trigon_sync.store.state import load_state

D = dt.date
KEYS = ("sales_invoices_created", "payments_created")


@pytest.fixture
def env(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> Iterator[Env]:
    """Three readable firms linked, two fields mapped."""
    denied = set(sandbox_seed_dict["anomalies"]["no_view"])
    firms = [f["id"] for f in sandbox_seed_dict["trigon"]["firms"] if f["id"] not in denied][:3]
    link_firms(sandbox_world, firms)
    made = connect(sandbox_world, make_config(keys=KEYS), tmp_path)
    yield made
    made.close()


def _uku(env: Env, period: str) -> dict[str, dict[str, Any]]:
    """Trigon firm id -> the counts of its task of ``period`` in the sandbox's Uku."""
    by_client = {link.uku_client_id: link.trigon_id for link in load_state().links.values()}
    return {
        by_client[t["client_id"]]: task_counts(t, KEYS)
        for t in env.tasks()
        if t["title"] == f"Monthly summary {period}"
    }


def test_each_write_lands_in_the_ledger_with_its_uku_field_names(env: Env) -> None:
    """After a run the ledger holds, per client, what its task holds, under the field names."""
    env.run(D(2024, 10, 31))
    book = ledger.load()
    written = {firm: w for (firm, period), w in book.writes.items() if period == "2024-10"}
    assert {firm: w.counts for firm, w in written.items()} == _uku(env, "2024-10")
    assert all(w.names == {k: FIELD_NAME[k] for k in KEYS} for w in written.values())
    assert {w.task for w in written.values()} == {
        t["id"] for t in env.tasks() if t["title"] == "Monthly summary 2024-10"
    }


def test_a_rerun_updates_the_ledger_too(env: Env) -> None:
    """--rerun writes no journal line, but the ledger must follow the task it updated."""
    env.run(D(2024, 10, 31))
    firm = sorted(load_state().links)[0]
    env.world.add_record(firm, "sales_invoice", "2024-10-15T10:00:00+03:00")
    env.run(D(2024, 12, 5), rerun="2024-10")
    newest = ledger.load().writes[(firm, "2024-10")]
    assert newest.counts == _uku(env, "2024-10")[firm]
    assert newest.action == "update"


def _spike(env: Env, firm: str) -> None:
    """A bulk re-import: 300 sales invoices created in Trigon in December."""
    for n in range(300):
        env.world.add_record(firm, "sales_invoice", f"2024-12-{1 + n % 28:02d}T10:00:00+02:00")


def test_a_spike_is_flagged_in_the_dry_run_and_held_until_accepted(env: Env) -> None:
    """300 invoices against a usual two or three: flagged; with hold on, not written until the
    admin's accept is in the ledger, while the other clients are written."""
    firm = sorted(load_state().links)[0]
    for day in ("2024-10-10", "2024-10-11", "2024-10-12", "2024-11-10", "2024-11-11"):
        env.world.add_record(firm, "sales_invoice", f"{day}T10:00:00+02:00")
    env.run(D(2024, 11, 30))  # October and November: the usual level, a few invoices
    _spike(env, firm)
    plan = env.run(D(2024, 12, 31), dry_run=True)
    flagged = {o.link.trigon_id: o.plan.flags for o in plan.periods[0].outcomes if o.plan.flags}
    assert list(flagged) == [firm]
    assert [(f.kind, f.key) for f in flagged[firm]] == [("spike", "sales_invoices_created")]

    hold = env.with_config(anomalies=AnomalySettings(hold=True))
    held = env.run(D(2024, 12, 31), config=hold)
    assert [o.link.trigon_id for o in held.failed] == [firm]
    assert held.failed[0].plan.held and "accept" in (held.failed[0].error or "")
    assert firm not in _uku(env, "2024-12") and len(_uku(env, "2024-12")) == 2
    assert [(p.firm, p.period) for p in held.owed] == [(firm, "2024-12")]  # owed, not lost
    assert load_state().last_period == "2024-12"  # the others' window moved on

    ledger.LedgerWriter().accept("2024-12", firm, dt.datetime.now(tz=dt.UTC))
    done = env.run(D(2024, 12, 31), config=hold)
    assert not done.failed and done.periods[0].late and done.owed == []
    assert _uku(env, "2024-12")[firm]["sales_invoices_created"] >= 300


def test_explain_shows_the_counts_a_rerun_wrote(env: Env) -> None:
    """explain answers from local records; after --rerun that is the ledger's newest write."""
    env.run(D(2024, 10, 31))
    firm = sorted(load_state().links)[0]
    env.world.add_record(firm, "sales_invoice", "2024-10-15T10:00:00+03:00")
    env.run(D(2024, 12, 5), rerun="2024-10")
    state = load_state()
    answer = explain_client(firm, state, env.config, read_journals(state, firm), D(2024, 12, 5))
    [october] = [p for p in answer.periods if p.period == "2024-10"]
    assert dict(october.counts) == _uku(env, "2024-10")[firm]
    assert october.action == "create"  # how the task came to be, from the journal


class Killed(BaseException):
    """Stands in for the process dying (not an Exception: nothing may swallow it)."""


def test_the_ledger_row_and_the_journal_row_commit_together(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while journaling the first client: its ledger row is rolled back with the
    journal's (a ledger row without one made the resumed run, finding the client not done,
    adopt its task and write the ledger a second row), and the resumed run writes each
    client once to both."""

    def die(
        self: journal.PeriodJournal, entry: journal.Entry, at: dt.datetime, **_: object
    ) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(journal.PeriodJournal, "append", die)
        with pytest.raises(Killed):
            env.run(D(2024, 10, 31), workers=1)
    assert [firm for (firm, period) in ledger.load().writes if period == "2024-10"] == []
    env.run(D(2024, 10, 31))
    with sqlite3.connect(paths.records_file()) as con:
        writes = con.execute("SELECT firm FROM ledger_writes WHERE period = '2024-10'")
        done = con.execute("SELECT firm FROM task_events WHERE kind = 'done'")
        counted = Counter(firm for (firm,) in writes), Counter(firm for (firm,) in done)
    assert counted[0] == counted[1] == Counter(list(load_state().links))


def test_after_an_upgrade_the_journals_give_the_flags_their_history(env: Env) -> None:
    """Periods counted before the ledger existed still count as the usual level."""
    firm = sorted(load_state().links)[0]
    for day in ("2024-10-10", "2024-10-11", "2024-11-10", "2024-11-11"):
        env.world.add_record(firm, "sales_invoice", f"{day}T10:00:00+02:00")
    env.run(D(2024, 11, 30))
    _forget_ledger()  # as if October and November ran on a version without a ledger
    _spike(env, firm)
    plan = env.run(D(2024, 12, 31), dry_run=True)
    flagged = [o.link.trigon_id for o in plan.periods[0].outcomes if o.plan.flags]
    assert flagged == [firm]


def test_a_dry_run_writes_no_ledger(env: Env) -> None:
    """--dry-run flags from the ledger but adds nothing to it."""
    env.run(D(2024, 10, 31), dry_run=True)
    assert _ledger_rows() == (0, 0)
    env.run(D(2024, 10, 31))
    before = _ledger_rows()
    assert before[0] > 0
    env.run(D(2024, 11, 30), dry_run=True)
    assert _ledger_rows() == before


def _ledger_rows() -> tuple[int, int]:
    """(writes, mappings) in the records database."""
    db = records_db.shared()
    if db is None:
        return 0, 0
    with db.read() as con:
        (writes,) = con.execute("SELECT count(*) FROM ledger_writes").fetchone()
        (maps,) = con.execute("SELECT count(*) FROM field_maps").fetchone()
    return int(writes), int(maps)


def _forget_ledger() -> None:
    with records_db.shared(create=True).transaction() as con:
        con.execute("DELETE FROM ledger_writes")
