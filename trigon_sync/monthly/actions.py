"""What a period's run does per client, decided once, in pure code.

A monthly period is run the way a sync tool first decides what it will do and then does
it: monthly/run.py *fetches* once what every client's decision needs (the period's
journal and task listing, the firm list: :class:`PeriodFacts`), then on a worker per
client fetches that client's counts, this module *decides* its :class:`ClientAction`,
and the action is *carried out* (monthly/step.py) — or, in a dry run, shown as it is.
Both kinds of run decide with the same code from the same facts, so the dry run's list
is the real run's list. Deciding per client rather than for the whole period first lets
Trigon's counting of some clients overlap Uku's writes for others: the run's length is
the slower service's rate-limit floor, not the two floors added.

The kinds of action, per (client, period):

* ``fail``: the client cannot be done now, with the reason (its link no longer holds, the
  firm is gone or lacks View, a count cannot be had, the counts are held for review). In
  a period attempted for every client (or an owed retry) the client owes the period.
* ``done``: the period's journal says an earlier run finished the client; nothing is
  fetched or written.
* ``leave``: nothing to write (``--rerun`` found no task the record holds, or a finished
  task it may not change); the client is fine.
* ``write``: create, update or only record (and complete) the task, as the plan says. A
  client whose recorded task vanished from Uku, and an owed client retried late, are
  ``write`` actions too: they create (or adopt) the task of their own period.
* ``look``: an earlier run announced a create for this client and did not live to record
  its answer, and the listing does not show the task: the real run looks again once
  Uku's lists have caught up, adopts the task if it is there and creates it only if it is
  not. The plan it carries is the one a create would carry, with a reason that says the
  create is only what happens if Uku does not list the task after the wait
  (:func:`look_reason`): the dry run shows it so, as a create that may turn out an adopt.

No HTTP, no clock, no store: facts go in, actions come out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from trigon_sync.monthly.plan import (
    HELD,
    ClientPlan,
    Targets,
    already_done,
    decide,
    firm_problem,
    skipped,
)

if TYPE_CHECKING:
    from trigon_sync.store import journal
    from trigon_sync.store.state import ClientLink
    from trigon_sync.uku.models import Task

Kind = Literal["fail", "done", "leave", "write", "look"]


@dataclass(frozen=True, slots=True)
class ClientAction:
    """One client's action in one period, and the plan (counts, task) it carries."""

    kind: Kind
    plan: ClientPlan
    reason: str | None = None
    """Why a ``fail`` fails."""
    announced: dt.datetime | None = None
    """``look``: when the earlier run announced the create it did not record."""

    @property
    def link(self) -> ClientLink:
        return self.plan.link

    @property
    def ok(self) -> bool:
        """Whether the client is done (or fine) once the action is carried out as planned
        (a ``look`` whose counts are held fails after the look as before it)."""
        return self.kind != "fail" and not self.plan.held

    @property
    def error(self) -> str | None:
        """Why the client fails as planned (None: it does not)."""
        return None if self.ok else (self.reason or self.plan.reason or HELD)


@dataclass(frozen=True)
class Counted:
    """What fetching one client's counts gave: the counts, or why there are none."""

    link: ClientLink
    counts: Mapping[str, int] = field(default_factory=dict)
    failure: str | None = None


@dataclass(frozen=True)
class Rules:
    """What a period's decisions depend on besides the client's own facts."""

    targets: Targets
    auto_complete: bool
    rerun: bool = False
    include_finished: bool = False
    assess: Callable[[ClientPlan], ClientPlan] = lambda plan: plan
    """The review (flags, holds) of a plan's counts: monthly/review.py's ``assess``."""


LOST_ANSWER = "an earlier run's create lost its answer"
"""Why a client's create counts as announced when its own intent says so."""


def look_reason(why: str) -> str:
    """The reason a ``look``'s create plan carries: the dry run shows a create that the
    real run makes only if Uku's lists, once caught up, do not show the task (``why``:
    why the create counts as announced: :data:`LOST_ANSWER`, or the restore)."""
    return f"unless Uku lists it after the wait ({why})"


def fail(plan: ClientPlan, reason: str) -> ClientAction:
    return ClientAction("fail", plan, reason)


def without_counts(
    link: ClientLink,
    *,
    refused: str | None,
    done: journal.Entry | None,
    listed: Mapping[str, bool] | None,
) -> ClientAction | None:
    """The action known before any count is fetched, or None when counts must be fetched.

    ``refused``: why the client's link no longer holds; it fails first, even where a task
    was made while it did (the bill would rest on a client that is no longer this firm's).
    ``done``: the period's journal line of the client (not lost); a line for another Uku
    client is of a link since dropped and made again, so that client is not done yet.
    ``listed``: firm id -> has View, from the run's one firm list.
    """
    if refused is not None:
        return fail(skipped(link, refused), refused)
    if done is not None and done.client == link.uku_client_id:
        return ClientAction("done", already_done(link, done))
    problem = firm_problem(link, listed)
    if problem:
        return fail(skipped(link, problem), problem)
    return None


def with_counts(
    counted: Counted,
    rules: Rules,
    *,
    found: Task | None,
    announced: dt.datetime | None = None,
    recorded: journal.Entry | None = None,
    why: str = LOST_ANSWER,
) -> ClientAction:
    """The action of a client whose counts were fetched (or failed to be).

    ``found``: our task of the period as the listing shows it; ``announced``: when an
    earlier run announced a create for the client without recording its answer;
    ``recorded``: the period's journal line of the client, if any (``--rerun`` restores
    only a task the record holds); ``why``: why the create counts as announced."""
    link = counted.link
    if counted.failure is not None:
        return fail(skipped(link, counted.failure), counted.failure)
    plan = decide(
        link,
        rules.targets,
        counted.counts,
        found,
        auto_complete=rules.auto_complete,
        rerun=rules.rerun,
        restore=recorded is not None,
        include_finished=rules.include_finished,
    )
    plan = rules.assess(plan)
    if announced is not None and found is None:
        # decided again with what the second look finds (monthly/step.py); until then a
        # create only if Uku does not list the task (a held plan keeps its own reason)
        if plan.action == "create" and not plan.held:
            plan = dataclasses.replace(plan, reason=look_reason(why))
        return ClientAction("look", plan, announced=announced)
    if plan.held:  # flagged and not accepted: waits like a failed client
        return fail(plan, plan.reason or HELD)
    if plan.action == "skip":
        return ClientAction("leave", plan)
    return ClientAction("write", plan)


@dataclass(frozen=True)
class PeriodFacts:
    """What the run fetched once for the whole period, that each client's action needs.

    ``refused``: firm id -> why its link no longer holds; ``done``: firm id -> its journal
    line that is not lost; ``listed``: firm id -> has View (None: no firm list);
    ``found``: Uku client id -> our task of the period in the listing; ``announced``: firm
    id -> when an earlier run announced a create it did not record; ``recorded``: firm id
    -> its journal line, lost or not; ``why``: firm id -> why its create counts as
    announced, where that is not :data:`LOST_ANSWER` (a home restored from a backup).
    """

    rules: Rules
    refused: Mapping[str, str]
    done: Mapping[str, journal.Entry]
    listed: Mapping[str, bool] | None
    found: Mapping[int, Task | None]
    announced: Mapping[str, dt.datetime]
    recorded: Mapping[str, journal.Entry]
    why: Mapping[str, str] = field(default_factory=dict)


def restored_announced(
    announced: Mapping[str, dt.datetime], undone: Iterable[str], since: dt.datetime | None
) -> Mapping[str, dt.datetime]:
    """``announced`` as a home restored from a backup must read it (``since``: the moment
    store/restore_mark.py gives; None: not restored, ``announced`` as it is).

    The backup's copy lacks the intents committed after its snapshot, so each client in
    ``undone`` (not recorded as done) may have a task Uku does not list yet, sent before
    ``since``: it counts as announced then (or later, by its own intent), and the run
    looks again once Uku's lists show what was sent by then before creating."""
    if since is None:
        return announced
    merged = dict(announced)
    for firm in undone:
        merged[firm] = max(merged.get(firm, since), since)
    return merged


def client_action(
    link: ClientLink, facts: PeriodFacts, count: Callable[[ClientLink], Counted]
) -> ClientAction:
    """One client's action: known from the period's facts alone, or decided from its
    counts, which ``count`` fetches only then. The real run and the dry run both call
    this, on the same facts, so the dry run's action is the real run's."""
    firm = link.trigon_id
    early = without_counts(
        link, refused=facts.refused.get(firm), done=facts.done.get(firm), listed=facts.listed
    )
    if early is not None:
        return early
    return with_counts(
        count(link),
        facts.rules,
        found=facts.found.get(link.uku_client_id),
        announced=facts.announced.get(firm),
        recorded=facts.recorded.get(firm),
        why=facts.why.get(firm, LOST_ANSWER),
    )
