"""The pure half of the monthly run: due periods, preconditions, Uku ids, per-client actions."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from trigon_sync.errors import ConfigError, StateError, UsageError
from trigon_sync.monthly.gate import check_today, readiness_problems, require_ready, schedule_for
from trigon_sync.monthly.plan import (
    Target,
    Targets,
    decide,
    fields_to_fetch,
    firm_problem,
    idempotency_key,
    rerun_target,
    resolve_targets,
    unlinked_warning,
)
from trigon_sync.monthly.task_identity import TaskIdentity
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run, ScheduleRule
from trigon_sync.schedule.run_text import next_import_sentence
from trigon_sync.settings.config import Config, SummarySettings, UkuSettings, require_schedule
from trigon_sync.store.state import ClientLink, State
from trigon_sync.uku.models import CustomField, Task, Topic

D = dt.date
LINK = ClientLink("f1", "10137319", "Alpha OÜ", 501, D(2024, 9, 1))


def config(rule: str = "last_calendar_day", **fields: str | int) -> Config:
    return Config(
        path=Path("/home/x/config.toml"),
        exists=True,
        uku=UkuSettings(company="c-1"),
        summary=SummarySettings(
            task_title="Summary {period}",
            topic="Bookkeeping",
            first_import_date=D(2024, 10, 1),
            schedule=ScheduleRule(rule),  # type: ignore[arg-type]  # any rule string on purpose, valid or not
        ),
        fields=fields or {"sales_invoices_created": "Sales invoice created"},
    )


def state(**changes: object) -> State:
    s = State(links={"f1": LINK})
    for key, value in changes.items():
        setattr(s, key, value)
    return s


def test_worked_example_windows_follow_the_window_engine() -> None:
    """31.10 is due with 01.10–30.10; on 30.10 the next line names 31.10 and its window."""
    due = schedule_for(config(), state(), D(2024, 10, 31))
    assert due.due == (Run(D(2024, 10, 31), D(2024, 10, 1), D(2024, 10, 30), "2024-10"),)
    quiet = schedule_for(config(), state(), D(2024, 10, 30))
    assert quiet.due == ()
    assert next_import_sentence(quiet.next) == (
        "next import 31.10.2024 will count 01.10.2024–30.10.2024 (period 2024-10)"
    )


def test_nothing_due_line_after_a_switch_to_last_work_day() -> None:
    """The issue's example line: 29.11.2024 covering 31.10.2024–28.11.2024."""
    s = state(last_period_end=D(2024, 10, 30), last_period="2024-10")
    line = next_import_sentence(schedule_for(config("last_work_day"), s, D(2024, 11, 20)).next)
    assert line == "next import 29.11.2024 will count 31.10.2024–28.11.2024 (period 2024-11)"


def test_missed_months_are_all_due_oldest_first() -> None:
    """Three missed import days are three due runs, in order."""
    s = state(last_period_end=D(2024, 10, 30), last_period="2024-10")
    due = schedule_for(config(), s, D(2025, 2, 3)).due
    assert [r.period for r in due] == ["2024-11", "2024-12", "2025-01"]


def test_an_open_period_keeps_its_window_after_a_schedule_change() -> None:
    """A period a failed run opened is resumed with its own window, then the new rule runs."""
    s = state()
    opened = Run(D(2024, 10, 31), D(2024, 10, 1), D(2024, 10, 30), "2024-10")
    period_record.mark_open(s, opened, dt.datetime(2024, 10, 31, 0, 30, tzinfo=dt.UTC))
    due = schedule_for(config("last_work_day"), s, D(2024, 11, 29)).due
    assert due[0] == opened
    assert (due[1].period, due[1].window_start, due[1].window_end) == (
        "2024-11",
        D(2024, 10, 31),
        D(2024, 11, 28),
    )


def test_an_open_period_that_does_not_join_the_last_window_is_refused() -> None:
    """state.toml edited under a running period: refuse rather than count days twice."""
    s = state(last_period_end=D(2024, 9, 15), last_period="2024-09")
    period_record.mark_open(
        s,
        Run(D(2024, 10, 31), D(2024, 10, 1), D(2024, 10, 30), "2024-10"),
        dt.datetime(2024, 10, 31, tzinfo=dt.UTC),
    )
    with pytest.raises(StateError, match="in progress"):
        schedule_for(config(), s, D(2024, 10, 31))


def test_completed_periods_are_remembered_for_rerun() -> None:
    """Completing a period moves the marker, closes the journal and keeps the window."""
    s = state()
    run = Run(D(2024, 10, 31), D(2024, 10, 1), D(2024, 10, 30), "2024-10")
    period_record.mark_open(s, run, dt.datetime(2024, 10, 31, tzinfo=dt.UTC))
    assert period_record.run_in_progress(s)
    period_record.mark_completed(s, run, dt.datetime(2024, 10, 31, tzinfo=dt.UTC), clients=1)
    assert not period_record.run_in_progress(s)
    assert (s.last_period_end, s.last_period) == (D(2024, 10, 30), "2024-10")
    assert rerun_target(s, "2024-10") == run
    with pytest.raises(UsageError, match="completed: 2024-10"):
        rerun_target(s, "2024-11")


def test_a_refused_rerun_names_every_completed_period_not_only_the_newest() -> None:
    """Eleven completed periods: the refusal says their whole range and count, so the
    oldest (which re-count fine) are not hidden behind the newest six."""
    s = state()
    at = dt.datetime(2025, 9, 1, tzinfo=dt.UTC)
    for month in range(11):
        start = D(2024 + (9 + month) // 12, (9 + month) % 12 + 1, 1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        run = Run(end, start, end, f"{start:%Y-%m}")
        period_record.mark_open(s, run, at)
        period_record.mark_completed(s, run, at, clients=1)
    assert rerun_target(s, "2024-10").period == "2024-10"
    with pytest.raises(UsageError) as refused:
        rerun_target(s, "2025-09")
    assert "(completed: 2024-10..2025-08, 11 periods)" in refused.value.message


def test_readiness_lists_everything_missing_at_once() -> None:
    """No title, topic, schedule, date, mapping or links: one error naming all of them."""
    bare = Config(path=Path("/h/config.toml"), exists=True)
    keys = [p.key for p in readiness_problems(bare, 0)]
    assert keys == [
        "summary.task_title",
        "summary.topic",
        "summary.schedule",
        "summary.first_import_date",
        "fields",
        "uku.company",
        "links",
    ]


def test_settings_not_ready_name_what_is_unset_with_one_hint_whoever_finds_out() -> None:
    """The schedule set but no first import date: the timeline names that key (it used to
    say summary.schedule), and it, `schedule` and the readiness check give one hint."""
    no_date = config()
    no_date = replace(no_date, summary=replace(no_date.summary, first_import_date=None))
    errors = []
    for check in (
        lambda: schedule_for(no_date, state(), D(2024, 10, 31)),
        lambda: require_schedule(no_date),
        lambda: require_ready(no_date, 1),
    ):
        with pytest.raises(ConfigError) as caught:
            check()
        errors.append(caught.value)
    assert [[p.key for p in e.problems] for e in errors] == [["summary.first_import_date"]] * 3
    assert len({e.hint for e in errors}) == 1
    assert "map-fields" in (errors[0].hint or "")


def test_today_may_not_be_in_the_future() -> None:
    """--today replays the past only."""
    check_today(D(2024, 11, 29), D(2024, 11, 29))
    with pytest.raises(UsageError, match="later than today"):
        check_today(D(2024, 11, 30), D(2024, 11, 29))


TOPICS = [Topic(1, "Bookkeeping"), Topic(2, "Payroll")]
FIELDS = [
    CustomField(10, "Sales invoice created", "number", "task"),
    CustomField(11, "Notes", "text", "task"),
    CustomField(12, "Payment created", "number", "client"),
]


def test_targets_resolve_by_name_or_id_in_catalogue_order() -> None:
    """Topic and fields resolve case-insensitively by name, or by id."""
    by_name = config(sales_invoices_created="sales INVOICE created")
    by_id = replace(by_name, fields={"sales_invoices_created": 10})
    expected = Targets(1, "Bookkeeping", (Target("sales_invoices_created", 10, FIELDS[0].name),))
    assert resolve_targets(by_name, TOPICS, FIELDS) == expected
    assert resolve_targets(by_id, TOPICS, FIELDS) == expected


def test_target_problems_are_all_reported() -> None:
    """Unknown topic, a text field and a client-entity field: every problem named."""
    c = config(payments_created="Payment created", sales_invoices_created="Notes")
    c = replace(c, summary=replace(c.summary, topic="Nope"))
    with pytest.raises(ConfigError) as caught:
        resolve_targets(c, TOPICS, FIELDS)
    text = str(caught.value)
    assert "summary.topic" in text and "'Nope'" in text
    assert "fields.sales_invoices_created" in text and "text field" in text
    assert "fields.payments_created" in text


def test_two_counts_into_one_uku_field_are_refused() -> None:
    """A name and an id naming the same Uku field would let one count overwrite the other."""
    c = config(sales_invoices_created="Sales invoice created", payments_created=10)
    with pytest.raises(ConfigError) as caught:
        resolve_targets(c, TOPICS, FIELDS)
    text = str(caught.value)
    assert "fields.sales_invoices_created" in text or "fields.payments_created" in text
    assert "same Uku field" in text


TARGETS = Targets(1, "Bookkeeping", (Target("sales_invoices_created", 10, "x"),))


def task(value: object, status: str = "new") -> Task:
    return Task(7, "t", 501, 1, D(2024, 10, 31), status, None, {10: value})  # type: ignore[dict-item]  # any value Uku may hold, typed or not


@pytest.mark.parametrize(
    ("existing", "auto", "rerun", "action", "complete"),
    [
        (None, False, False, "create", False),
        (None, True, False, "create", True),
        (None, False, True, "skip", False),
        (task(5), False, False, "exists", False),
        (task(5.0), True, False, "exists", True),
        (task(5, "finished"), True, False, "exists", False),
        (task(4), False, False, "update", False),
        (task(None), False, True, "update", False),
    ],
)
def test_decide_matrix(
    existing: Task | None, auto: bool, rerun: bool, action: str, complete: bool
) -> None:
    """What Uku holds decides create / update / exists / skip, and whether to complete."""
    plan = decide(
        LINK, TARGETS, {"sales_invoices_created": 5}, existing, auto_complete=auto, rerun=rerun
    )
    assert (plan.action, plan.complete) == (action, complete)
    if action == "skip":
        assert plan.reason and "only restores a task the record holds" in plan.reason


def test_rerun_restores_only_a_task_the_period_record_holds() -> None:
    """--rerun creates a task only for a client the period's record says had one."""
    counts = {"sales_invoices_created": 5}
    kept = decide(LINK, TARGETS, counts, None, auto_complete=False, rerun=True)
    restored = decide(LINK, TARGETS, counts, None, auto_complete=False, rerun=True, restore=True)
    assert (kept.action, restored.action) == ("skip", "create")


def test_idempotency_key_is_stable_and_distinct() -> None:
    """Same company and task identity -> same key; any difference -> another key."""
    mine = TaskIdentity("0123456789abcdef", 7, "2024-10")
    key = idempotency_key("c", mine)
    assert key == idempotency_key("c", TaskIdentity("0123456789abcdef", 7, "2024-10"))
    others = {
        idempotency_key("d", mine),
        idempotency_key("c", TaskIdentity("0123456789abcdef", 7, "2024-11")),
        idempotency_key("c", TaskIdentity("0123456789abcdef", 8, "2024-10")),
        idempotency_key("c", TaskIdentity("fedcba9876543210", 7, "2024-10")),
    }
    assert len({key, *others}) == 5
    assert len(key) <= 200  # Uku refuses longer keys with 400


def test_only_mapped_fields_are_fetched() -> None:
    """The fetch list is the mapping, in catalogue order."""
    got = fields_to_fetch(["depreciable_fixed_assets", "payments_created"])
    assert [f.key for f in got] == ["payments_created", "depreciable_fixed_assets"]


def test_firm_problems_come_from_the_firm_list() -> None:
    """Missing from the list -> gone; listed without View -> say so; otherwise go ahead."""
    assert "not found" in (firm_problem(LINK, {}) or "")
    assert "View" in (firm_problem(LINK, {"f1": False}) or "")
    assert firm_problem(LINK, {"f1": True}) is None


def test_unlinked_firms_warning_names_the_fix() -> None:
    """Firms not linked yet: a count, three names and the command that lists them all
    (mailed every night, it was five lines); `ignore` is named for a firm left out."""
    firms = [("f1", "Alpha OÜ", "1"), *((f"g{i}", f"Firm {i}", None) for i in range(12))]
    warning = unlinked_warning(firms, state())
    assert warning is not None
    assert warning.startswith("12 Trigon firm(s)")
    assert "Firm 2 (no code) and 9 more" in warning and "Firm 3" not in warning
    assert "`trigon-sync import-clients` lists them all" in warning
    assert "`trigon-sync ignore CODE_OR_ID`" in warning
    assert len(f"warning: {warning}") <= 240  # three lines of an 80-column terminal
    assert unlinked_warning(firms[:1], state()) is None


def test_ignored_firms_are_not_announced_again() -> None:
    """A firm the admin ignored is left out of the monthly warning; the others stay."""
    firms = [("f1", "Alpha OÜ", "1"), ("g1", "Kept Out OÜ", "2"), ("g2", "New OÜ", "3")]
    s = state(ignored={"g1": {"name": "Kept Out OÜ", "registration_code": "2"}})
    warning = unlinked_warning(firms, s)
    assert warning is not None and warning.startswith("1 Trigon firm(s)")
    assert "New OÜ" in warning and "Kept Out" not in warning
    s.ignored["g2"] = {"name": "New OÜ"}
    assert unlinked_warning(firms, s) is None
