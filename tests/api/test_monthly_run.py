"""The monthly run against the in-process sandbox: the issue's acceptance list, mostly.

Time is driven by ``today`` (the CLI's ``--today``); what Uku received is read back from
the sandbox's write log and stored tasks, and counts are compared with an independent
count of the seed (monthly_env.expected_counts).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from monthly_env import (
    FIELD_ID,
    FIELD_NAME,
    Env,
    KillAfterCreates,
    Killed,
    carries_identity,
    connect,
    expected_counts,
    link_firms,
    make_config,
    task_counts,
    viewable_firms,
)

from trigon_sync.clients.links import unlink
from trigon_sync.errors import PermissionDenied, UsageError
from trigon_sync.records import periods as period_record
from trigon_sync.sandbox import SandboxWorld
from trigon_sync.schedule.rules import ScheduleRule
from trigon_sync.settings import fields
from trigon_sync.store import journal, paths
from trigon_sync.store.state import load_state, locked_state

D = dt.date


def _assert_tasks_match_seed(
    env: Env, seed: dict[str, Any], period: str, start: dt.date, end: dt.date, day: dt.date
) -> None:
    state = load_state()
    by_client = {link.uku_client_id: link for link in state.links.values()}
    mine = [t for t in env.tasks() if t["title"] == f"Monthly summary {period}"]
    assert sorted(t["client_id"] for t in mine) == sorted(by_client)
    for task in mine:
        link = by_client[task["client_id"]]
        assert task["date"] == day.isoformat()
        assert task["topic_id"] == 1
        assert carries_identity(task, period)
        assert task_counts(task) == expected_counts(seed, link.trigon_id, start, end)


def test_worked_example_last_calendar_day(env: Env, sandbox_seed_dict: dict[str, Any]) -> None:
    """31.10 counts 01.10–30.10 and 30.11 counts 31.10–29.11, one task per client each."""
    first = env.run(D(2024, 10, 31))
    assert [p.run.period for p in first.periods] == ["2024-10"]
    assert first.periods[0].complete and not first.failed
    _assert_tasks_match_seed(
        env, sandbox_seed_dict, "2024-10", D(2024, 10, 1), D(2024, 10, 30), D(2024, 10, 31)
    )
    assert load_state().last_period_end == D(2024, 10, 30)

    second = env.run(D(2024, 11, 30))
    assert [(p.run.window_start, p.run.window_end) for p in second.periods] == [
        (D(2024, 10, 31), D(2024, 11, 29))
    ]
    _assert_tasks_match_seed(
        env, sandbox_seed_dict, "2024-11", D(2024, 10, 31), D(2024, 11, 29), D(2024, 11, 30)
    )
    assert sum(env.tasks_per_client_period().values()) == 2 * len(load_state().links)


def test_worked_example_switch_to_last_work_day(
    env: Env, sandbox_seed_dict: dict[str, Any]
) -> None:
    """After October, last work day: 29.11 covers 31.10–28.11 and 31.12 covers 29.11–30.12."""
    env.run(D(2024, 10, 31))
    env.with_config(
        summary=make_config(rule=ScheduleRule("last_work_day")).summary,
    )
    assert env.run(D(2024, 11, 28)).periods == []  # Thursday: nothing due yet
    november = env.run(D(2024, 11, 29))
    assert [(p.run.period, p.run.window_start, p.run.window_end) for p in november.periods] == [
        ("2024-11", D(2024, 10, 31), D(2024, 11, 28))
    ]
    december = env.run(D(2024, 12, 31))
    assert [(p.run.period, p.run.window_start, p.run.window_end) for p in december.periods] == [
        ("2024-12", D(2024, 11, 29), D(2024, 12, 30))
    ]
    _assert_tasks_match_seed(
        env, sandbox_seed_dict, "2024-11", D(2024, 10, 31), D(2024, 11, 28), D(2024, 11, 29)
    )
    _assert_tasks_match_seed(
        env, sandbox_seed_dict, "2024-12", D(2024, 11, 29), D(2024, 12, 30), D(2024, 12, 31)
    )


def test_three_missed_months_run_in_one_invocation_in_order(env: Env) -> None:
    """Cron dead for November–January: one run creates the three periods' tasks, oldest first."""
    env.run(D(2024, 10, 31))
    env.world.clear_logs()
    result = env.run(D(2025, 2, 3))
    assert [p.run.period for p in result.periods] == ["2024-11", "2024-12", "2025-01"]
    assert all(p.complete for p in result.periods)
    created = [
        w["object"]["title"][-7:]
        for w in env.task_writes()
        if w["path"] == "/api/v3/tasks" and w["status"] == 201
    ]
    assert created == sorted(created)  # every 2024-11 create before any 2024-12 one
    links = len(load_state().links)
    assert Counter(created) == {"2024-11": links, "2024-12": links, "2025-01": links}
    assert load_state().last_period == "2025-01"
    assert load_state().last_period_end == D(2025, 1, 30)


def test_same_night_twice_changes_nothing(env: Env) -> None:
    """A second run on the same night finds nothing due and sends no write."""
    env.run(D(2024, 10, 31))
    writes = len(env.world.writes())
    again = env.run(D(2024, 10, 31))
    assert again.periods == []
    assert len(env.world.writes()) == writes


def test_state_restored_from_an_old_backup_finds_tasks_instead_of_duplicating(env: Env) -> None:
    """With the run forgotten by state.toml, the markers in Uku still prevent a second task."""
    before = paths.state_file().read_bytes()
    env.run(D(2024, 10, 31))
    paths.state_file().write_bytes(before)
    env.world.clear_logs()
    result = env.run(D(2024, 10, 31))
    assert {o.plan.action for o in result.periods[0].outcomes} == {"exists"}
    assert env.task_writes() == []
    assert set(env.tasks_per_client_period().values()) == {1}


@pytest.mark.parametrize("kill_after", [1, 9, 27])
def test_run_killed_between_clients_resumes_with_exactly_one_task_each(
    env: Env, kill_after: int
) -> None:
    """Killed after N clients: the window stays, the re-run does only the rest, no doubles."""
    done: list[str] = []

    def die(outcome: Any) -> None:
        done.append(outcome.link.trigon_id)
        if len(done) >= kill_after:
            raise Killed

    with pytest.raises(Killed):
        env.run(D(2024, 10, 31), workers=1, after_client=die)
    state = load_state()
    assert state.last_period_end is None
    assert period_record.run_in_progress(state)
    assert state.history[-1].result == "failed"

    env.world.clear_logs()
    result = env.run(D(2024, 10, 31))
    period = result.periods[0]
    assert period.complete
    resumed = {
        o.link.trigon_id for o in period.outcomes if o.plan.reason == "done by an earlier run"
    }
    assert resumed == set(done)
    assert len([w for w in env.task_writes() if w["status"] == 201]) == len(period.outcomes) - len(
        done
    )
    assert set(env.tasks_per_client_period().values()) == {1}
    assert not period_record.run_in_progress(load_state())
    assert load_state().last_period_end == D(2024, 10, 30)


@contextmanager
def killed_on_october_31(
    world: SandboxWorld,
    tmp_path: Path,
    creates: int,
    *,
    outer: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = None,
    **run_kwargs: Any,
) -> Iterator[Env]:
    """The 31.10.2024 run, dead after ``creates`` task creates; yields it disarmed to re-run."""
    killers: list[KillAfterCreates] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        killers.append(KillAfterCreates(inner, creates))
        return killers[-1] if outer is None else outer(killers[-1])

    env = connect(world, make_config(), tmp_path, transport_wrapper=wrap)
    try:
        with pytest.raises(Killed):
            env.run(D(2024, 10, 31), **run_kwargs)
        for killer in killers:
            killer.armed = False
        yield env
    finally:
        env.close()


def test_killed_after_a_create_but_before_the_journal_line(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """The worst moment to die: the re-run finds the orphan task by its marker, no double."""
    link_firms(sandbox_world, viewable_firms(sandbox_seed_dict))
    with killed_on_october_31(sandbox_world, tmp_path, 5, workers=1) as env:
        assert len(env.tasks()) == 6
        assert len(journal.PeriodJournal(period_record.open_run(load_state())).load()) == 5
        result = env.run(D(2024, 10, 31))
        actions = Counter(o.plan.action for o in result.periods[0].outcomes)
        assert actions["exists"] == 6  # 5 from the journal, 1 found in Uku by its marker
        assert result.periods[0].complete
        assert set(env.tasks_per_client_period().values()) == {1}


def test_revoked_view_is_named_partial_and_the_next_run_makes_the_owed_task(env: Env) -> None:
    """No View on one firm: others done, it is named and owes the period, the window
    moves on; restored -> the next run makes its task on the period's own window."""
    state = load_state()
    victim = sorted(state.links.values(), key=lambda link: link.trigon_id)[3]
    env.world.revoke_view(victim.trigon_id)
    result = env.run(D(2024, 10, 31))
    [failed] = result.failed
    assert failed.link.trigon_id == victim.trigon_id
    assert "View" in (failed.error or "")
    error = result.partial_failure()  # a summary: the client is named on its owed: line
    assert error is not None and error.message.startswith("1 (client, period) pair(s) owed")
    assert error.exit_code == 5
    assert victim.name in result.owed[0].line(D(2024, 10, 31))
    after = load_state()
    assert after.last_period_end == D(2024, 10, 30) and after.history[-1].result == "partial"
    assert [(p.firm, p.period) for p in result.owed] == [(victim.trigon_id, "2024-10")]
    assert len(env.tasks()) == len(after.links) - 1
    counted = [
        r for r in env.world.requests("trigon") if f"/firms/{victim.trigon_id}/" in r["path"]
    ]
    assert counted == []  # known from the firm list: no count was even asked for

    env.world.restore_view(victim.trigon_id)
    env.world.clear_logs()
    again = env.run(D(2024, 10, 31))
    assert again.periods[0].late and again.periods[0].complete and not again.failed
    assert again.owed == [] and again.partial_failure() is None
    [write] = [w for w in env.task_writes() if w["status"] == 201]
    assert write["body"]["client_id"] == victim.uku_client_id
    final = load_state()
    assert final.last_period_end == D(2024, 10, 30)
    assert set(env.tasks_per_client_period().values()) == {1}


def test_a_failed_client_holds_back_no_later_period(env: Env) -> None:
    """With one client failing October, November still runs for every client."""
    victim = next(iter(load_state().links.values()))
    env.world.revoke_view(victim.trigon_id)
    result = env.run(D(2024, 11, 30))
    assert [p.run.period for p in result.periods] == ["2024-10", "2024-11"]
    assert result.deferred == []
    linked = len(load_state().links)
    assert sum(t["title"].endswith("2024-11") for t in env.tasks()) == linked - 1
    assert [(p.firm, p.period) for p in result.owed] == [
        (victim.trigon_id, "2024-10"),
        (victim.trigon_id, "2024-11"),
    ]


def test_a_removed_firm_and_a_deleted_uku_client_fail_alone(env: Env) -> None:
    """A firm gone from Trigon and an Uku client deleted are per-client failures (the
    deleted client is known from the run's client check before any task is sent)."""
    links = sorted(load_state().links.values(), key=lambda link: link.trigon_id)
    env.world.remove_firm(links[0].trigon_id)
    with env.world.lock:
        del env.world.uku.clients[links[1].uku_client_id]
    result = env.run(D(2024, 10, 31))
    reasons = {o.link.trigon_id: o.error for o in result.failed}
    assert set(reasons) == {links[0].trigon_id, links[1].trigon_id}
    assert "not found in Trigon" in reasons[links[0].trigon_id]
    assert "no longer in Uku (deleted or archived)" in reasons[links[1].trigon_id]
    assert len(env.tasks()) == len(links) - 2


def test_dry_run_writes_nothing_and_prints_the_issue_shape(env: Env) -> None:
    """--dry-run: no POST/PATCH reaches Uku, state.toml is byte-identical, no journal."""
    env.run(D(2024, 10, 31))
    before = paths.state_file().read_bytes()
    env.world.clear_logs()
    plan = env.run(D(2024, 12, 31), dry_run=True)
    assert env.world.writes() == []
    assert [r for r in env.world.requests("uku") if r["method"] != "GET"] == []
    assert paths.state_file().read_bytes() == before
    assert not journal.has_rows("2024-11")
    doc = plan.to_json()
    assert set(doc) == {
        "periods",
        "warnings",
        "notes",
        "repaired",
        "owed",
        "deferred",
        "clients_failed",
    }
    assert [p["period"] for p in doc["periods"]] == ["2024-11", "2024-12"]
    first = doc["periods"][0]
    assert set(first) == {"period", "import_day", "window_start", "window_end", "clients"}
    assert (first["import_day"], first["window_start"], first["window_end"]) == (
        "2024-11-30",
        "2024-10-31",
        "2024-11-29",
    )
    client = first["clients"][0]
    assert set(client) == {
        "trigon_id",
        "registration_code",
        "name",
        "action",
        "counts",
        "reason",
        "flags",
        "held",
    }
    assert client["action"] == "create"
    assert list(client["counts"]) == list(fields.KEYS)


def test_dry_run_fails_a_firm_without_view_as_the_real_run_would(env: Env) -> None:
    """A firm without View fails in the dry run with why, and the plan exits like the
    real run (partial failure; the period is complete and the firm owes it)."""
    victim = next(iter(load_state().links.values()))
    env.world.revoke_view(victim.trigon_id)
    plan = env.run(D(2024, 10, 31), dry_run=True)
    [failed] = plan.failed
    assert failed.link.trigon_id == victim.trigon_id and "View" in (failed.error or "")
    assert plan.periods[0].complete
    assert [(p.firm, p.period) for p in plan.owed] == [(victim.trigon_id, "2024-10")]
    failure = plan.partial_failure()
    assert failure is not None and failure.message == (
        "1 (client, period) pair(s) owed in 2024-10; each is named above"
    )


def test_rerun_updates_changed_counts_and_never_creates(
    env: Env, sandbox_seed_dict: dict[str, Any]
) -> None:
    """--rerun after a back-dated entry: that task is updated, none created, window kept."""
    env.run(D(2024, 10, 31))
    link = sorted(load_state().links.values(), key=lambda x: x.trigon_id)[0]
    env.world.add_record(link.trigon_id, "sales_invoice", "2024-10-15T10:00:00+03:00")
    before = load_state()
    env.world.clear_logs()
    result = env.run(D(2024, 12, 5), rerun="2024-10")
    actions = {o.link.trigon_id: o.plan.action for o in result.periods[0].outcomes}
    assert actions.pop(link.trigon_id) == "update"
    assert set(actions.values()) == {"exists"}
    [patch] = env.task_writes()
    assert patch["method"] == "PATCH"
    [task] = [t for t in env.tasks() if t["client_id"] == link.uku_client_id]
    expected = expected_counts(sandbox_seed_dict, link.trigon_id, D(2024, 10, 1), D(2024, 10, 30))
    expected["sales_invoices_created"] += 1
    assert task_counts(task) == expected
    after = load_state()
    assert (after.last_period_end, after.last_period) == (
        before.last_period_end,
        before.last_period,
    )
    assert after.history[-1].command == "run-monthly --rerun"


def test_rerun_of_an_unknown_period_is_refused(env: Env) -> None:
    """Only periods this tool completed can be re-counted."""
    from trigon_sync.errors import UsageError

    with pytest.raises(UsageError, match="2024-09"):
        env.run(D(2024, 12, 5), rerun="2024-09")


class StaleTaskList(httpx.BaseTransport):
    """Uku's task list lags behind (an index): while ``stale``, the first page of a task
    listing shows no tasks at all; once it has served that many stale listings it catches
    up (a listing read ``settle_seconds`` later shows the task)."""

    made: ClassVar[list[StaleTaskList]] = []

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.stale = 0
        StaleTaskList.made.append(self)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        q = request.url.params
        if request.url.path == "/api/v3/tasks" and request.method == "GET" and self.stale:
            if q.get("offset") == "0":
                self.stale -= 1
            return httpx.Response(
                200,
                json={
                    "data": [],
                    "meta": {"total": 0, "limit": 200, "offset": 0, "has_more": False},
                },
                headers={k: v for k, v in response.headers.items() if k.lower().startswith("x-")},
            )
        return response


def test_a_create_killed_before_its_journal_line_is_found_and_updated_not_sent_again(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """The journal's intent line makes the re-run look again once lists have caught up
    (the listing it started with is stale) and update the task; no second create is sent."""
    [firm] = viewable_firms(sandbox_seed_dict)[:1]
    link_firms(sandbox_world, [firm])
    StaleTaskList.made.clear()
    with killed_on_october_31(sandbox_world, tmp_path, 0, outer=StaleTaskList) as env:
        sandbox_world.add_record(firm, "payment", "2024-10-02T12:00:00+03:00")
        sandbox_world.clear_logs()
        for stale in StaleTaskList.made:
            stale.stale = 1  # the re-run's own listing does not show the task yet
        result = env.run(D(2024, 10, 31))
        assert result.periods[0].complete
        statuses = [(w["method"], w["status"]) for w in env.task_writes()]
        assert statuses == [("PATCH", 200)]
        [task] = env.tasks()
        expected = expected_counts(sandbox_seed_dict, firm, D(2024, 10, 1), D(2024, 10, 30))
        expected["payments_created"] += 1
        assert task_counts(task) == expected


def test_auto_complete_falls_back_to_patch_on_old_deployments(env: Env) -> None:
    """auto_complete finishes every task, via PATCH when /complete answers 404."""
    env.with_config(summary=make_config(auto_complete=True).summary)
    env.world.set_uku(complete_endpoint=False)
    result = env.run(D(2024, 10, 31))
    assert result.count("completed") == len(load_state().links)
    assert {t["status"] for t in env.tasks()} == {"finished"}


def test_only_mapped_fields_are_fetched(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Two mapped fields -> two count calls per client and two custom fields per task."""
    link_firms(sandbox_world, viewable_firms(sandbox_seed_dict)[:4])
    keys = ["sales_invoices_created", "active_reporting_persons"]
    env = connect(sandbox_world, make_config(keys=keys), tmp_path)
    try:
        env.run(D(2024, 10, 31))
        paths_hit = {
            r["path"].split("/")[-2]
            for r in sandbox_world.requests("trigon")
            if r["path"].endswith("/count")
        }
        assert paths_hit == {"sales-invoices", "reporting-persons"}
        for task in env.tasks():
            assert [cf["field_id"] for cf in task["custom_fields"]] == sorted(
                FIELD_ID[k] for k in keys
            )
    finally:
        env.close()


def test_a_systemic_failure_stops_the_run_and_is_recorded(env: Env) -> None:
    """An Uku key that may not write stops everything (exit 9), recorded in the history."""
    env.world.set_uku(api_key_role="member")
    with pytest.raises(PermissionDenied):
        env.run(D(2024, 10, 31))
    state = load_state()
    assert state.last_period_end is None
    assert state.history[-1].result == "failed"
    assert "may not" in state.history[-1].details["error"]


def test_unlinked_firms_are_listed_as_a_warning(env: Env) -> None:
    """Firms Trigon lists but state has not linked get a warning that names the fix."""
    result = env.run(D(2024, 10, 31))
    [warning] = result.warnings
    assert "2 Trigon firm(s)" in warning and "import-clients" in warning


def test_a_task_deleted_after_a_crashed_create_is_created_again(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """Uku replays the first create for the deleted task; the run must not journal a dead id."""
    [firm] = viewable_firms(sandbox_seed_dict)[:1]
    link_firms(sandbox_world, [firm])
    with killed_on_october_31(sandbox_world, tmp_path, 0) as env:
        [orphan] = env.tasks()
        with sandbox_world.lock:  # someone tidies the half-done task away in Uku
            del sandbox_world.uku.tasks[orphan["id"]]
        result = env.run(D(2024, 10, 31))
        assert result.periods[0].complete
        [task] = env.tasks()
        assert carries_identity(task, "2024-10")
        october = period_record.completed_run(load_state(), "2024-10")
        assert october is not None
        [entry] = journal.PeriodJournal(october, archived=True).load().values()
        assert entry.task == task["id"]


class WarnOnTaskCreate(httpx.BaseTransport):
    """Uku accepts each task create but attaches a warning to the answer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/api/v3/tasks":
            response.read()
            body = response.json()
            body["warnings"] = [{"code": "FIELD_IGNORED", "message": "field 10 is archived"}]
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
            return httpx.Response(response.status_code, json=body, headers=headers)
        return response


def test_uku_warnings_on_task_writes_reach_the_run_report(
    sandbox_world: SandboxWorld, sandbox_seed_dict: dict[str, Any], tmp_path: Path
) -> None:
    """A warning Uku attaches to a summary task is reported once, with how often it came."""
    link_firms(sandbox_world, viewable_firms(sandbox_seed_dict)[:3])
    env = connect(sandbox_world, make_config(), tmp_path, transport_wrapper=WarnOnTaskCreate)
    try:
        result = env.run(D(2024, 10, 31))
        [warning] = [w for w in result.warnings if "FIELD_IGNORED" in w]
        assert "field 10 is archived" in warning and "3" in warning
    finally:
        env.close()


def test_a_crowded_topic_with_look_alike_markers_gets_one_task_per_client(env: Env) -> None:
    """450 tasks over three pages, of other periods and look-alike firms: none mistaken."""
    links = sorted(load_state().links.values(), key=lambda link: link.trigon_id)
    first = links[0]
    firm = first.trigon_id
    decoys = [f"trigon-sync:{firm}:2024-09", f"trigon-sync:{firm}00:2024-10", f"x{firm}:2024-10"]
    with env.world.lock:
        for i in range(450):
            env.world.uku.create_task(
                {
                    "title": f"Other work {i}",
                    "client_id": first.uku_client_id,
                    "topic_id": 1,
                    "date": "2024-10-15",
                    "description": f"note\n{decoys[i % len(decoys)]}",
                }
            )
    result = env.run(D(2024, 10, 31))
    assert result.periods[0].complete
    assert {o.plan.action for o in result.periods[0].outcomes} == {"create"}
    mine = Counter(t["client_id"] for t in env.tasks() if t["title"].endswith("2024-10"))
    assert mine == {link.uku_client_id: 1 for link in links}


NOW = dt.datetime(2024, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def test_unlinking_a_firm_that_lost_view_stops_its_owed_periods(env: Env) -> None:
    """A client whose View is gone owes Oct and Nov (the others' periods complete); once
    it is unlinked, its owed periods are no longer retried."""
    victim = sorted(load_state().links.values(), key=lambda link: link.trigon_id)[2]
    env.world.revoke_view(victim.trigon_id)
    first = env.run(D(2024, 11, 30))
    assert [o.link.trigon_id for o in first.failed] == [victim.trigon_id] * 2
    assert load_state().last_period_end == D(2024, 11, 29)
    assert len(first.owed) == 2

    with locked_state() as session:
        removed = unlink(session.state, victim.registration_code, NOW)
        session.save()
    assert removed.trigon_id == victim.trigon_id

    again = env.run(D(2024, 11, 30))
    assert not again.failed and again.periods == [] and again.owed == []
    final = load_state()
    assert final.last_period_end == D(2024, 11, 29)
    assert victim.trigon_id not in final.links
    assert final.history[-1].command == "unlink"
    others = len(final.links)
    per_period = Counter(t["title"] for t in env.tasks())
    assert per_period == {"Monthly summary 2024-10": others, "Monthly summary 2024-11": others}
    assert not any(t["client_id"] == victim.uku_client_id for t in env.tasks())


def test_unlink_refuses_an_unknown_code_and_a_part_of_a_name(env: Env) -> None:
    """Only an exact registration code or Trigon id unlinks; anything else changes nothing."""
    state = load_state()
    some = next(iter(state.links.values()))
    for query in ("99999999", some.name.split()[0]):
        with pytest.raises(UsageError):
            unlink(state, query, NOW)
    assert len(state.links) == len(load_state().links)


def test_a_plan_names_each_count_by_its_uku_field_also_when_mapped_by_id(env: Env) -> None:
    """config.toml may map a count to an Uku field id; the plan still knows its name."""
    env.with_config(
        fields={key: FIELD_ID[key] for key in ("payments_created", "sales_invoices_created")}
    )
    plan = env.run(D(2024, 10, 31), dry_run=True)
    assert plan.field_names == {
        "payments_created": FIELD_NAME["payments_created"],
        "sales_invoices_created": FIELD_NAME["sales_invoices_created"],
    }


def test_two_tasks_of_ours_in_uku_are_named_and_only_the_oldest_is_kept_up_to_date(
    env: Env,
) -> None:
    """A copy of a task made in Uku (by hand, say): the run names both, writes no third
    task and updates only the oldest."""
    env.run(D(2024, 10, 31))
    link = sorted(load_state().links.values(), key=lambda x: x.trigon_id)[0]
    [original] = [t for t in env.tasks() if t["client_id"] == link.uku_client_id]
    with env.world.lock:
        copy = env.world.uku.create_task(
            {k: original[k] for k in ("title", "client_id", "topic_id", "date", "description")}
        )
    env.world.add_record(link.trigon_id, "sales_invoice", "2024-10-15T10:00:00+03:00")
    env.world.clear_logs()
    result = env.run(D(2024, 12, 5), rerun="2024-10")
    [warning] = [w for w in result.warnings if "summary tasks for" in w]
    assert str(original["id"]) in warning and str(copy["id"]) in warning
    assert [w["path"] for w in env.task_writes()] == [f"/api/v3/tasks/{original['id']}"]
