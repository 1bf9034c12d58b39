"""The period's actions are decided in pure code (monthly/actions.py): no HTTP, no store."""

from __future__ import annotations

import dataclasses
import datetime as dt

from trigon_sync.monthly.actions import Counted, Rules, period_actions, with_counts, without_counts
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


def test_each_kind_of_client_gets_its_action_in_client_order() -> None:
    a, b, c, d, e, f = (link(x, n) for n, x in enumerate("abcdef", start=1))
    early = {
        x.trigon_id: action
        for x in (a, b, c, d, e, f)
        if (
            action := without_counts(
                x,
                refused="linked in another company" if x is a else None,
                done=Entry("b", 2, 92, "create", {"payments_created": 1}) if x is b else None,
                listed={"a": True, "b": True, "c": False, "d": True, "e": True, "f": True},
            )
        )
        is not None
    }
    counted = {x.trigon_id: Counted(x, {"payments_created": 3}) for x in (d, e, f)}
    planned = period_actions(
        [a, b, c, d, e, f],
        early,
        counted,
        RULES,
        found={5: task(5, 3)},
        announced={"f": AT},
        recorded={},
    )
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
