"""`explain`: the answer for one client in each period, from state, history and journal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from trigon_sync.billing.explain import Verdict, explain_client
from trigon_sync.billing.explain_records import failures_by_period, read_journals
from trigon_sync.clock import TALLINN
from trigon_sync.errors import UsageError
from trigon_sync.records import periods as period_record
from trigon_sync.records.tables import RunRecord, StagedImport
from trigon_sync.schedule.rules import Run, ScheduleRule
from trigon_sync.settings.config import Config, SummarySettings
from trigon_sync.store import journal
from trigon_sync.store.state import ClientLink, State

CONFIG = Config(
    path=Path("config.toml"),
    exists=True,
    summary=SummarySettings(
        task_title="Summary {period}",
        topic="Bookkeeping",
        first_import_date=dt.date(2024, 10, 1),
        schedule=ScheduleRule("last_calendar_day"),
    ),
)
OCTOBER = Run(dt.date(2024, 10, 31), dt.date(2024, 10, 1), dt.date(2024, 10, 30), "2024-10")
NOVEMBER = Run(dt.date(2024, 11, 30), dt.date(2024, 10, 31), dt.date(2024, 11, 29), "2024-11")
RAN_AT = dt.datetime(2024, 10, 31, 0, 30, tzinfo=TALLINN)
NIGHT = dt.datetime(2024, 11, 30, 0, 30, tzinfo=TALLINN)


def entry(firm: str, task: int, action: str = "create") -> journal.Entry:
    return journal.Entry(firm=firm, client=100, task=task, action=action, counts={"x": 3})


@pytest.fixture
def state() -> State:
    """Alpha and Beeta linked on 01.10.2024; 2024-10 completed; Gamma linked on 05.11.2024."""
    state = State()
    state.links["f1"] = ClientLink("f1", "10137319", "Alpha OÜ", 101, dt.date(2024, 10, 1))
    state.links["f2"] = ClientLink("f2", "10000004", "Beeta AS", 102, dt.date(2024, 10, 1))
    state.links["f3"] = ClientLink("f3", "10000010", "Gamma OÜ", 103, dt.date(2024, 11, 5))
    period_record.mark_completed(state, OCTOBER, RAN_AT, clients=2)
    return state


JOURNALS = {"2024-10": {"f1": entry("f1", 5001), "f2": entry("f2", 5002)}}


def fail_november_for_beeta(state: State) -> None:
    """Last night's run opened 2024-11, did Alpha and Gamma, and failed for Beeta."""
    period_record.mark_open(state, NOVEMBER, NIGHT)
    state.record(
        NIGHT,
        "run-monthly",
        "partial",
        periods=["2024-11"],
        complete=[],
        clients_ok=2,
        clients_failed=1,
        failures=[{"firm": "f2", "name": "Beeta AS", "reason": "no View permission in Trigon"}],
    )


def test_a_client_with_a_task_gets_its_uku_id(state: State) -> None:
    """A period completed with the client's journal line: the Uku task id and the window."""
    answer = explain_client("10137319", state, CONFIG, JOURNALS, dt.date(2024, 11, 20))
    october = answer.periods[0]
    assert (october.period, october.verdict, october.task_id) == ("2024-10", Verdict.TASK, 5001)
    assert "01.10.2024–30.10.2024" in october.reason
    assert "linked to Uku client 101 since 01.10.2024" in answer.summary


def test_a_client_imported_after_the_period_closed(state: State) -> None:
    """Linked on 05.11.2024, after 2024-10 was counted: 'not linked at that time'."""
    answer = explain_client("Gamma", state, CONFIG, JOURNALS, dt.date(2024, 11, 20))
    october = answer.periods[0]
    assert october.verdict is Verdict.NOT_LINKED
    assert "linked on 05.11.2024, after period 2024-10 was counted" in october.reason
    assert october.task_id is None


def test_a_client_that_failed_last_night(state: State) -> None:
    """An open period with a failure for the client: the reason and that it is retried."""
    fail_november_for_beeta(state)
    journals = {**JOURNALS, "2024-11": {"f1": entry("f1", 5101), "f3": entry("f3", 5103)}}
    answer = explain_client("Beeta AS", state, CONFIG, journals, dt.date(2024, 11, 30))
    november = next(a for a in answer.periods if a.period == "2024-11")
    assert november.verdict is Verdict.FAILED
    assert "failed for this client: no View permission in Trigon" in november.reason
    assert "30.11.2024 00:30" in november.reason
    assert "run-monthly" in november.reason
    gamma = explain_client("10000010", state, CONFIG, journals, dt.date(2024, 11, 30))
    assert [(a.period, a.verdict) for a in gamma.periods[:2]] == [
        ("2024-10", Verdict.NOT_LINKED),
        ("2024-11", Verdict.TASK),
    ]


def test_a_later_success_keeps_the_earlier_failure_as_a_note(state: State) -> None:
    """Failed on one run, done on the next: the task id, and the failure mentioned."""
    fail_november_for_beeta(state)
    period_record.mark_completed(state, NOVEMBER, NIGHT + dt.timedelta(days=1), clients=3)
    journals = {**JOURNALS, "2024-11": {"f2": entry("f2", 5102)}}
    november = explain_client(
        "f2", state, CONFIG, journals, dt.date(2024, 12, 2), period="2024-11"
    ).periods[0]
    assert (november.verdict, november.task_id) == (Verdict.TASK, 5102)
    assert "an earlier run failed (no View permission in Trigon)" in november.reason
    assert len(november.failures) == 1


def test_an_open_period_without_a_failure_is_pending(state: State) -> None:
    """A run started the period and stopped before this client: 'run run-monthly'."""
    period_record.mark_open(state, NOVEMBER, NIGHT)
    november = explain_client(
        "Alpha", state, CONFIG, JOURNALS, dt.date(2024, 11, 30), period="2024-11"
    ).periods[0]
    assert november.verdict is Verdict.PENDING


def test_the_next_period_is_not_due_yet_with_its_window(state: State) -> None:
    """Before 30.11.2024 the 2024-11 task does not exist yet: the import day and window."""
    november = explain_client("Alpha", state, CONFIG, JOURNALS, dt.date(2024, 11, 20)).periods[-1]
    assert (november.period, november.verdict) == ("2024-11", Verdict.NOT_DUE)
    assert "the import on 30.11.2024 will count 31.10.2024–29.11.2024" in november.reason


def test_a_missed_import_day_is_due(state: State) -> None:
    """On 03.12.2024 with no run since October: 2024-11 is due, 2024-12 not due yet."""
    answer = explain_client("Alpha", state, CONFIG, JOURNALS, dt.date(2024, 12, 3))
    assert [(a.period, a.verdict) for a in answer.periods] == [
        ("2024-10", Verdict.TASK),
        ("2024-11", Verdict.DUE),
        ("2024-12", Verdict.NOT_DUE),
    ]


def test_a_future_period_is_projected(state: State) -> None:
    """--period 2025-03: when it would be imported if the schedule stays."""
    answer = explain_client(
        "Alpha", state, CONFIG, JOURNALS, dt.date(2024, 11, 20), period="2025-03"
    )
    [march] = answer.periods
    assert march.verdict is Verdict.NOT_DUE
    assert march.run is not None and march.run.import_day == dt.date(2025, 3, 31)
    assert "if the schedule stays" in march.reason


def test_a_period_before_the_records_began(state: State) -> None:
    """--period 2024-09 (before any trigon-sync run): said plainly, no task."""
    state.complete_window(dt.date(2024, 10, 30), "2024-10")
    [september] = explain_client(
        "Alpha", state, CONFIG, JOURNALS, dt.date(2024, 11, 20), period="2024-09"
    ).periods
    assert september.verdict is Verdict.BEFORE


def test_without_a_schedule_past_periods_are_still_answered(state: State) -> None:
    """No usable config: completed periods answered, nothing projected."""
    answer = explain_client("Alpha", state, None, JOURNALS, dt.date(2024, 11, 20))
    assert [a.period for a in answer.periods] == ["2024-10"]


def test_an_ambiguous_name_lists_the_candidates(state: State) -> None:
    """'OÜ' matches Alpha and Gamma: a usage error naming both with their codes."""
    with pytest.raises(UsageError) as raised:
        explain_client("OÜ", state, CONFIG, JOURNALS, dt.date(2024, 11, 20))
    assert "Alpha OÜ (10137319)" in raised.value.message
    assert "Gamma OÜ (10000010)" in raised.value.message


def test_codes_are_matched_normalised_and_exact_names_win(state: State) -> None:
    """'101 373 19' finds Alpha; an exact name beats a partial match of another."""
    state.links["f4"] = ClientLink("f4", "10000027", "Alpha OÜ Grupp", 104, dt.date(2024, 10, 1))
    assert explain_client("101 373 19", state, CONFIG, JOURNALS, dt.date(2024, 11, 1)).link
    found = explain_client("alpha oü", state, CONFIG, JOURNALS, dt.date(2024, 11, 1)).link
    assert found is not None and found.trigon_id == "f1"


def test_an_unknown_client_is_not_linked(state: State) -> None:
    """No link and no staged row: not linked, with import-clients as the way in."""
    answer = explain_client("99999999", state, CONFIG, JOURNALS, dt.date(2024, 11, 20))
    assert answer.link is None
    assert "import-clients" in answer.summary
    assert answer.to_json()["linked"] is False


def test_a_staged_but_unconfirmed_client_says_confirm(state: State) -> None:
    """A row in the staged import: not linked yet, run `confirm`."""
    state.staged_import = StagedImport.from_document(
        {
            "version": 1,
            "register_checked": False,
            "rows": [
                {
                    "trigon_id": "f9",
                    "name": "Uus Klient OÜ",
                    "registration_code": "10000033",
                    "action": "create",
                }
            ],
        }
    )
    answer = explain_client("Uus Klient", state, CONFIG, JOURNALS, dt.date(2024, 11, 20))
    assert answer.staged is not None
    assert "trigon-sync confirm" in answer.summary


def test_failures_belong_to_the_period_that_did_not_complete() -> None:
    """A run that completed 2024-10 and failed in 2024-11 files the failure under 2024-11."""
    record = RunRecord.from_document(
        {
            "at": "2024-11-30T00:30:00+02:00",
            "command": "run-monthly",
            "periods": ["2024-10", "2024-11"],
            "complete": ["2024-10"],
            "failures": [{"firm": "f2", "reason": "Uku rejected the data"}],
        }
    )
    assert list(failures_by_period([record], "f2")) == ["2024-11"]
    assert failures_by_period([record], "f1") == {}


def test_read_journals_reads_archived_and_open_periods(state: State) -> None:
    """Rows written by the monthly run are found in completed (archived) and open periods."""
    october = journal.PeriodJournal(OCTOBER)
    october.append(entry("f1", 5001), RAN_AT)
    october.archive()
    period_record.mark_open(state, NOVEMBER, NIGHT)
    journal.PeriodJournal(NOVEMBER).append(entry("f3", 5103, "update"), NIGHT)
    assert read_journals(state, "f1")["2024-10"]["f1"].task == 5001
    assert read_journals(state, "f3")["2024-11"]["f3"].action == "update"
    assert journal.PeriodJournal(OCTOBER, archived=True).load()["f1"].task == 5001


def test_part_of_a_name_matches_from_the_start_of_a_word(state: State) -> None:
    """'Oru' finds Oru Aed AS but not Saare Torutööd AS, whose word merely contains it."""
    state.links["f7"] = ClientLink("f7", "10000043", "Saare Torutööd AS", 107, dt.date(2024, 10, 1))
    state.links["f8"] = ClientLink("f8", "10000056", "Oru Aed AS", 108, dt.date(2024, 10, 1))
    found = explain_client("Oru", state, CONFIG, JOURNALS, dt.date(2024, 11, 1)).link
    assert found is not None and found.trigon_id == "f8"
    found = explain_client("aed", state, CONFIG, JOURNALS, dt.date(2024, 11, 1)).link
    assert found is not None and found.trigon_id == "f8"


def test_a_failed_rerun_after_the_task_is_not_called_an_earlier_failure(state: State) -> None:
    """2024-10 done with task 5001, then a --rerun failed for Alpha: say the re-count failed
    (the task keeps the older counts), not that an earlier run failed and a later one did it."""
    state.record(
        dt.datetime(2024, 11, 12, 9, 0, tzinfo=TALLINN),
        "run-monthly --rerun",
        "partial",
        periods=["2024-10"],
        complete=[],
        clients_ok=1,
        clients_failed=1,
        failures=[{"firm": "f1", "name": "Alpha OÜ", "reason": "Uku refused the value"}],
    )
    october = explain_client(
        "10137319", state, CONFIG, JOURNALS, dt.date(2024, 11, 20), period="2024-10"
    ).periods[0]
    assert (october.verdict, october.task_id) == (Verdict.TASK, 5001)
    assert "earlier run failed" not in october.reason
    assert "re-count" in october.reason
    assert "Uku refused the value" in october.reason
