"""The period's actions are decided in pure code (monthly/actions.py): no HTTP, no store."""

from __future__ import annotations

import dataclasses
import datetime as dt

from trigon_sync.monthly.actions import (
    Counted,
    PeriodFacts,
    Rules,
    client_action,
    with_counts,
)
from trigon_sync.monthly.plan import Target, Targets
from trigon_sync.store.journal import Entry
from trigon_sync.store.state import ClientLink
from trigon_sync.uku.models import Task

TARGETS = Targets(7, "Bookkeeping", (Target("payments_created", 11, "Payments"),))
RULES = Rules(TARGETS, auto_complete=False)
AT = dt.datetime(2024, 10, 31, 2, 0, tzinfo=dt.UTC)


def link(firm: str, client: int) -> ClientLink:
    return ClientLink(firm, "10137319", f"Firm {firm}", client, dt.date(2024, 9, 30))


def task(client: int, count: int) -> Task:
    return Task(90 + client, "Monthly summary", client, 7, None, "open", None, {11: count})


def test_each_kind_of_client_gets_its_action_and_only_those_that_need_counts_are_counted() -> None:
    a, b, c, d, e, f = (link(x, n) for n, x in enumerate("abcdef", start=1))
    facts = PeriodFacts(
        RULES,
        refused={"a": "linked in another company"},
        done={"b": Entry("b", 2, 92, "create", {"payments_created": 1})},
        listed={"a": True, "b": True, "c": False, "d": True, "e": True, "f": True},
        found={5: task(5, 3)},
        announced={"f": AT},
        recorded={},
    )
    counted: list[str] = []

    def count(x: ClientLink) -> Counted:
        counted.append(x.trigon_id)
        return Counted(x, {"payments_created": 3})

    planned = [client_action(x, facts, count) for x in (a, b, c, d, e, f)]
    got = [(x.link.trigon_id, x.kind, x.plan.action, x.ok) for x in planned]
    assert got == [
        ("a", "fail", "skip", False),  # the link no longer holds
        ("b", "done", "exists", True),  # the journal says an earlier run did it
        ("c", "fail", "skip", False),  # no View
        ("d", "write", "create", True),
        ("e", "write", "exists", True),  # the task holds these counts already
        ("f", "look", "create", True),  # an announced create: look again before creating
    ]
    assert planned[2].error is not None and "View" in planned[2].error
    assert counted == ["d", "e", "f"]  # nothing is fetched for an action known without it


def test_a_count_that_cannot_be_had_or_held_counts_fail_with_the_reason() -> None:
    x = link("a", 1)
    assert with_counts(Counted(x, failure="no View"), RULES, found=None).error == "no View"
    hold = dataclasses.replace(
        RULES, assess=lambda plan: dataclasses.replace(plan, held=True, reason="held: why")
    )
    held = with_counts(Counted(x, {"payments_created": 3}), hold, found=None)
    assert (held.kind, held.error) == ("fail", "held: why")


def test_a_rerun_leaves_a_client_whose_task_the_record_does_not_hold() -> None:
    rerun = dataclasses.replace(RULES, rerun=True)
    x = link("a", 1)
    left = with_counts(Counted(x, {"payments_created": 3}), rerun, found=None)
    assert (left.kind, left.ok) == ("leave", True)
    restored = with_counts(
        Counted(x, {"payments_created": 3}),
        rerun,
        found=None,
        recorded=Entry("a", 1, 91, "create", {"payments_created": 2}),
    )
    assert (restored.kind, restored.plan.action) == ("write", "create")
