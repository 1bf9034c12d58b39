"""Which Uku task is ours: client, period and installation, whatever Uku did to the text."""

from __future__ import annotations

import pytest

from trigon_sync.monthly.plan import count_mismatches, held_count
from trigon_sync.monthly.task_identity import TaskIdentity, find, index, plain_text
from trigon_sync.uku.models import Task

HOME_A = "0123456789abcdef"
HOME_B = "fedcba9876543210"
MINE = TaskIdentity(HOME_A, 7, "2024-10", legacy_firm="org:7 f1")


def task(description: str | None, *, client: int = 7, tid: int = 1, **fields: int) -> Task:
    values = {int(k.removeprefix("f")): v for k, v in fields.items()}
    return Task(tid, "T", client, 1, None, "new", description, values)


@pytest.mark.parametrize(
    "description",
    [
        MINE.describe("Trigon counts for 01.10.2024–30.10.2024, written by trigon-sync."),
        "<p>Trigon counts.</p><p>trigon-sync-task:0123456789abcdef:2024-10</p>",
        "<p>counts<br>trigon&#45;sync&#45;task:0123456789abcdef:2024&#x2D;10</p>",
        "<div><strong>trigon-sync-task:</strong><span>0123456789abcdef</span>:2024-10</div>",
        "Counts.&nbsp;trigon-sync-task:0123456789abcdef:2024-10 (edited by hand)",
    ],
    ids=["plain", "paragraphs", "entities", "split-by-tags", "inline"],
)
def test_our_marker_is_found_however_uku_renders_the_description(description: str) -> None:
    """Plain text, <p>/<br>, entities, tags inside the token: the same task."""
    assert MINE.matches(task(description))


@pytest.mark.parametrize(
    ("other", "why"),
    [
        (task(MINE.marker, client=8), "another client"),
        (task("trigon-sync-task:0123456789abcdef:2024-11"), "another period"),
        (task(f"trigon-sync-task:{HOME_B}:2024-10"), "another installation"),
        (task(None), "no description"),
        (task("<p>trigon-sync-task:0123456789abcdef</p>"), "no period"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_task_of_another_client_period_or_home_is_not_ours(other: Task, why: str) -> None:
    assert not MINE.matches(other), why


def test_two_homes_sharing_one_uku_client_each_find_only_their_own_task() -> None:
    """One Uku client linked in two homes: each home's identity picks its own task."""
    a = task(TaskIdentity(HOME_A, 7, "2024-10").marker, tid=10)
    b = task(TaskIdentity(HOME_B, 7, "2024-10").marker, tid=11)
    assert find(TaskIdentity(HOME_A, 7, "2024-10"), [b, a]).task == a
    assert find(TaskIdentity(HOME_B, 7, "2024-10"), [a, b]).task == b
    assert find(TaskIdentity(HOME_A, 7, "2024-10"), [a, b]).doubles == ()


def test_tasks_written_by_version_0_1_are_still_recognised() -> None:
    """The old marker line (firm id with ':' and spaces) on the right client is ours."""
    old = task("Trigon counts.\n\ntrigon-sync:org:7 f1:2024-10")
    assert MINE.matches(old)
    assert MINE.matches(task("<p>Trigon counts.</p><p>trigon-sync:org:7 f1:2024-10</p>"))
    assert not MINE.matches(task("trigon-sync:org:7 f1:2024-10", client=8))
    assert not MINE.matches(task("trigon-sync:org:7 f10:2024-10"))
    assert not TaskIdentity(HOME_A, 7, "2024-10").matches(old)  # no firm: no legacy match


def test_the_oldest_of_several_matches_is_kept_and_the_rest_are_doubles() -> None:
    first, second = task(MINE.marker, tid=5), task(MINE.marker, tid=9)
    found = find(MINE, [second, first, task(MINE.marker, client=8, tid=1)])
    assert found.task == first and found.doubles == (second,)


def test_index_judges_each_client_only_by_its_own_tasks() -> None:
    """A listing that ignored every filter (all clients, all periods) still maps right."""
    other = TaskIdentity(HOME_A, 8, "2024-10")
    listing = [task(other.marker, client=8, tid=3), task(MINE.marker, client=7, tid=4)]
    found = index([MINE, other], listing)
    assert found[7].task is not None and found[7].task.id == 4
    assert found[8].task is not None and found[8].task.id == 3


def test_a_task_moved_onto_another_client_is_not_that_clients_task() -> None:
    """A person moved client 7's task onto client 8: its token names client 7, so client 8
    does not take it for its own, and client 7 no longer has it where it bills."""
    moved = task(MINE.marker, client=8, tid=3)
    host = TaskIdentity(HOME_A, 8, "2024-10")
    assert MINE.marker.endswith(":2024-10:7")
    assert not host.matches(moved) and not MINE.matches(moved)
    own = task(host.marker, client=8, tid=9)
    found = index([MINE, host], [moved, own])
    assert found[8].task == own and found[8].doubles == ()
    assert found[7].task is None


def test_an_older_token_without_the_client_is_judged_by_the_runs_records() -> None:
    """A token written before the client was part of it counts for the client it sits on,
    unless the run's records claim that task for another client (it was moved there)."""
    old = f"trigon-sync-task:{HOME_A}:2024-10"
    host = TaskIdentity(HOME_A, 8, "2024-10")
    moved, own = task(old, client=8, tid=3), task(old, client=8, tid=9)
    assert host.matches(moved)
    assert find(host, [moved, own]).task == moved  # nothing known: the oldest
    found = find(host, [moved, own], claimed={3: 7, 9: 8})
    assert found.task == own and found.doubles == ()
    assert index([host], [moved, own], claimed={3: 7})[8].task == own


def test_plain_text_turns_blocks_into_lines() -> None:
    assert plain_text("<p>a</p><p>b<br>c</p>").split() == ["a", "b", "c"]
    assert plain_text("x &amp; y") == "x & y"


@pytest.mark.parametrize(
    ("value", "count"),
    [(3, 3), (3.0, 3), ("3", 3), (" 3.00 ", 3), (0, 0), ("3.5", None), (True, None),
     (None, None), ("three", None), (float("nan"), None), ("1e3", 1000)],
)  # fmt: skip
def test_a_held_value_counts_only_when_it_is_a_whole_number(value: object, count: int) -> None:
    """Uku may return an integer field's value as 3, 3.0 or "3.00"; all hold 3."""
    assert held_count(value) == count  # type: ignore[arg-type]  # values of every shape on purpose


def test_count_mismatches_name_every_field_not_held() -> None:
    held = task("x", f10=3, f11=0)
    assert count_mismatches({10: 3, 11: 0}, held) == []
    assert count_mismatches({10: 4, 11: 0, 12: 1}, held) == [(10, 4, 3), (12, 1, None)]
