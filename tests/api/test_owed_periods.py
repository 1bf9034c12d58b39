"""Each (client, period) stands alone (issue 22): a client that fails owes its period,
the window chain moves on for the others, and owed periods are retried first, on their
own window, exactly once."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from monthly_env import Env, connect, expected_counts, link_firms, make_config, task_counts
from world_seeds import fresh_world

from trigon_sync.errors import ExitCode
from trigon_sync.monthly.result import MonthlyResult
from trigon_sync.records import periods as period_record
from trigon_sync.store import owed, paths
from trigon_sync.store.state import load_state, locked_state

D = dt.date


def _actions(result: MonthlyResult) -> list[tuple[str, str, str]]:
    """(period, firm, action or fail) for every client the run decided."""
    return [
        (p.run.period, o.link.trigon_id, o.plan.action if o.ok else "fail")
        for p in result.periods
        for o in p.outcomes
    ]


def test_two_firms_without_view_owe_their_periods_and_get_them_once_view_is_back(
    env36: Env, seed36: dict[str, Any]
) -> None:
    """October: 34 tasks and a partial exit naming 2 owed pairs; November: 34 more; with
    View granted back, the next night makes the 4 owed tasks, each with its own window's
    counts; no (client, period) ever has two tasks."""
    denied = sorted(seed36["anomalies"]["no_view"])
    assert len(denied) == 2 and len(load_state().links) == 36

    october = env36.run(D(2024, 10, 31))
    assert len(env36.tasks()) == 34
    error = october.partial_failure()
    assert error is not None and error.exit_code == ExitCode.PARTIAL
    assert sorted((p.firm, p.period) for p in october.owed) == [(f, "2024-10") for f in denied]
    assert load_state().last_period_end == D(2024, 10, 30)  # the chain moved on
    record = load_state().history[-1]
    assert record.result == "partial"
    assert sorted(o["firm"] for o in record.details["owed"]) == denied

    dry = env36.run(D(2024, 11, 30), dry_run=True)
    november = env36.run(D(2024, 11, 30))
    assert _actions(dry) == _actions(november)
    assert [(p.firm, p.period) for p in dry.owed] == [(p.firm, p.period) for p in november.owed]
    dry_error, real_error = dry.partial_failure(), november.partial_failure()
    assert dry_error is not None and real_error is not None
    assert dry_error.exit_code == real_error.exit_code
    assert [p.run.period for p in november.periods] == ["2024-10", "2024-11"]
    assert november.periods[0].late  # the owed ones were retried first, and failed again
    assert sum(t["title"].endswith("2024-11") for t in env36.tasks()) == 34
    assert len(november.owed) == 4
    assert november.partial_failure() is not None

    for firm in denied:
        env36.world.restore_view(firm)
    planned = env36.run(D(2024, 12, 1), dry_run=True)  # not an import day: owed only
    assert [(p.run.period, len(p.outcomes)) for p in planned.periods] == [
        ("2024-10", 2),
        ("2024-11", 2),
    ]
    assert all(o.plan.action == "create" for p in planned.periods for o in p.outcomes)
    assert planned.partial_failure() is None and len(env36.tasks()) == 68

    night = env36.run(D(2024, 12, 1))
    assert night.owed == [] and night.partial_failure() is None
    assert _actions(planned) == _actions(night)  # the dry run is the real run, unwritten
    assert len(env36.tasks()) == 72
    assert set(env36.tasks_per_client_period().values()) == {1}
    state = load_state()
    links = {link.trigon_id: link for link in state.links.values()}
    for period in ("2024-10", "2024-11"):
        run = period_record.completed_run(state, period)
        assert run is not None
        for firm in denied:
            [task] = [
                t
                for t in env36.tasks()
                if t["client_id"] == links[firm].uku_client_id and t["title"].endswith(period)
            ]
            want = expected_counts(seed36, firm, run.window_start, run.window_end)
            assert task_counts(task) == want
            assert task["date"] == run.import_day.isoformat()  # the period's import day
    assert owed.pairs() == [] and len(owed.pairs("done")) == 4

    again = env36.run(D(2024, 12, 2))  # nothing owed, nothing due: nothing happens
    assert again.periods == [] and len(env36.tasks()) == 72


def test_a_waived_pair_is_not_retried_and_an_unlinked_client_stops_being_retried(
    env36: Env, seed36: dict[str, Any]
) -> None:
    """waive drops one pair for good (with its reason); an unlinked client's pairs stay
    recorded, as dropped, and are no longer retried or reported."""
    from trigon_sync.clients.links import unlink

    denied = sorted(seed36["anomalies"]["no_view"])
    env36.run(D(2024, 10, 31))
    assert owed.waive(denied[0], "2024-10", "left in September", D(2024, 11, 2))
    with locked_state() as session:
        unlink(session.state, denied[1], dt.datetime.now(tz=dt.UTC))
        session.save()
    env36.world.restore_view(denied[0])  # back in November; October stays waived
    result = env36.run(D(2024, 11, 30))
    assert [p.run.period for p in result.periods] == ["2024-11"]
    assert result.owed == [] and result.partial_failure() is None
    [waived] = owed.pairs("waived")
    assert (waived.firm, waived.reason) == (denied[0], "left in September")
    assert owed.pairs() == []
    assert [(p.firm, p.period) for p in owed.pairs("dropped")] == [(denied[1], "2024-10")]


@pytest.mark.parametrize("fault_seed", [1, 2])
def test_owed_periods_on_the_production_like_uku_with_lost_answers_and_a_kill(
    seed36: dict[str, Any], tmp_path: Path, fault_seed: int
) -> None:
    """The same months on the production-like Uku (keys ignored, lists lag) with 10% of
    POSTs committed then failed, and the owed night killed right after its first owed
    create commits: the rerun finds that task (the journal's intent, settle and lookup),
    so every (client, period) ends with exactly one task holding its own window's counts."""
    from monthly_env import Killed, bad_day, kill_switches

    from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE

    world = fresh_world(36, seed=22)  # the seed36 document, read once
    link_firms(world)
    killers, wrap = kill_switches(armed=False)
    env = connect(
        world,
        make_config(),
        tmp_path,
        behaviour=PRODUCTION_LIKE,
        uku_faults=bad_day(fault_seed),
        transport_wrapper=wrap,
    )
    denied = sorted(seed36["anomalies"]["no_view"])
    try:
        for today in (D(2024, 10, 31), D(2024, 11, 30)):
            result = env.run(today)
            assert sorted({p.firm for p in result.owed}) == denied
            env.clock.advance(3600)  # type: ignore[union-attr]  # a fake clock here
        for firm in denied:
            world.restore_view(firm)
        for killer in killers:
            killer.n, killer.armed = 0, True
        with pytest.raises(Killed):
            env.run(D(2024, 12, 1))
        for killer in killers:
            killer.armed = False
        env.clock.advance(3600)  # type: ignore[union-attr]
        night = env.run(D(2024, 12, 1))
        assert night.owed == [] and night.partial_failure() is None
    finally:
        env.close()
    state = load_state()
    firm_of = {link.uku_client_id: firm for firm, link in state.links.items()}
    per = Counter((t["client_id"], t["title"].rsplit(" ", 1)[-1]) for t in env.tasks())
    assert set(per.values()) == {1} and len(per) == 72
    for task in env.tasks():
        period = task["title"].rsplit(" ", 1)[-1]
        run = period_record.completed_run(state, period)
        assert run is not None
        firm = firm_of[task["client_id"]]
        assert task_counts(task) == expected_counts(seed36, firm, run.window_start, run.window_end)


def test_a_client_unlinked_while_owing_and_linked_again_is_counted_from_the_next_period(
    env36: Env, seed36: dict[str, Any]
) -> None:
    """unlink drops the pairs it owed for good (with the unlink's record): linked again
    after October's run and with View back, it gets November's task and never October's,
    as any client linked after a period's run (docs/operations.md)."""
    from trigon_sync.clients.links import unlink

    firm = sorted(seed36["anomalies"]["no_view"])[0]
    env36.run(D(2024, 10, 31))
    with locked_state() as session:
        link = session.state.links[firm]
        unlink(session.state, firm, dt.datetime(2024, 11, 5, 12, tzinfo=dt.UTC))
        session.save()
    [dropped] = owed.pairs("dropped", firm=firm)
    assert (dropped.period, dropped.since, dropped.updated_at) == (
        "2024-10",
        "2024-10-31",
        "2024-11-05",
    )
    assert load_state().history[-1].details["dropped_periods"] == ["2024-10"]
    assert owed.pairs(firm=firm) == []
    env36.world.restore_view(firm)
    with locked_state() as session:  # import-clients and confirm link it again
        session.state.links[firm] = replace(link, linked_at=D(2024, 11, 6))
        session.save()
    owed.owe(firm, "2024-10", "a late failure report", D(2024, 11, 7))  # never reopens it
    result = env36.run(D(2024, 11, 30))
    assert [(period, action) for period, f, action in _actions(result) if f == firm] == [
        ("2024-11", "create")
    ]
    uku = link.uku_client_id
    titles = sorted(t["title"][-7:] for t in env36.tasks() if t["client_id"] == uku)
    assert titles == ["2024-11"]
    assert [p.status for p in (owed.pair(firm, "2024-10"),) if p] == ["dropped"]


def test_a_home_upgraded_from_0_1_dates_its_owed_pairs_from_the_failing_run(
    env36: Env, seed36: dict[str, Any]
) -> None:
    """0.1 held a period open until every client was done: its run on 31.10.2024 failed
    two clients and left 2024-10 open, with the failures in state.toml's history. The
    first run after the upgrade (29.11.2024) finishes 2024-10 and the two owe it since
    31.10.2024, the run that first failed them (in the records, status and its lines),
    not since the upgrade's first night."""
    from trigon_sync.records.tables import RunRecord

    denied = sorted(seed36["anomalies"]["no_view"])
    [october] = env36.run(D(2024, 10, 31), dry_run=True).periods
    links = load_state().links
    with locked_state() as session:  # what 0.1 left: the period open, the failures in history
        period_record.mark_open(session.state, october.run, dt.datetime(2024, 10, 30, 22))
        session.state.legacy_history = [
            RunRecord(
                "2024-10-31T00:40:00+02:00",
                "run-monthly",
                "partial",
                {
                    "today": D(2024, 10, 31),
                    "periods": ["2024-10"],
                    "complete": [],
                    "clients_ok": 34,
                    "clients_failed": 2,
                    "failures": [
                        {"firm": f, "name": links[f].name, "reason": "no View"} for f in denied
                    ],
                },
            )
        ]
        session.save()
    assert "[[history]]" in paths.state_file().read_text(encoding="utf-8")

    night = env36.run(D(2024, 11, 29))
    assert night.periods[0].run == october.run and night.periods[0].complete
    said = sorted((p.firm, p.since) for p in night.owed if p.period == "2024-10")
    assert said == [(f, "2024-10-31") for f in denied]
    assert all("owed for 29 days" in p.line(night.today) for p in night.owed)
    october_owed = [p for p in owed.pairs() if p.period == "2024-10"]
    assert sorted((p.firm, p.since) for p in october_owed) == [(f, "2024-10-31") for f in denied]
    assert all(p.age_days(D(2024, 11, 29)) == 29 for p in october_owed)
