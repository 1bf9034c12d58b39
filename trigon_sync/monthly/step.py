"""One period's work per client: fetch its counts, then carry out its decided action.

The run fetches what the decisions need (:meth:`ClientStep.count` per client), decides
the period's list of actions once (monthly/actions.py, pure), and the real run carries
each out here (:meth:`ClientStep.carry_out`); a dry run shows the same list instead and
never reaches this module's writes. A client that cannot be done now (Uku refusing the
data, creates never confirmed, counts held after a second look) raises
:class:`ClientFailed` with the reason; the others go on. Trouble that is not about one
client (a service unreachable, a revoked connection) propagates and stops the run.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
import time
from collections.abc import Callable
from typing import cast

from trigon_sync.errors import ApiError
from trigon_sync.monthly.actions import ClientAction, Counted, Rules, with_counts
from trigon_sync.monthly.plan import ClientPlan, description, fields_to_fetch, idempotency_key
from trigon_sync.monthly.result import ClientOutcome
from trigon_sync.monthly.review import Review
from trigon_sync.monthly.task_identity import TaskIdentity, TaskQuery
from trigon_sync.monthly.task_listing import Later, PeriodTasks
from trigon_sync.monthly.task_writer import SummaryTaskWriter, Written
from trigon_sync.schedule.rules import Run
from trigon_sync.settings.config import Config
from trigon_sync.store import journal
from trigon_sync.store.state import ClientLink
from trigon_sync.trigon import FirmNotFound, FirmNotViewable, TrigonClient
from trigon_sync.trigon.counting import window_counts
from trigon_sync.trigon.models import ImpossibleCount
from trigon_sync.uku import TaskDraft, UkuClient
from trigon_sync.uku.settling import Now, Settler


class ClientFailed(Exception):
    """Internal: this client cannot be done now (the reason goes in the report)."""

    def __init__(self, plan: ClientPlan, reason: str) -> None:
        super().__init__(reason)
        self.plan = plan
        self.reason = reason


class ClientStep:
    """What a run does for each client of one period, with the run's clients and review."""

    def __init__(
        self,
        config: Config,
        trigon: TrigonClient,
        uku: UkuClient,
        review: Review,
        *,
        run: Run,
        rules: Rules,
        book: journal.PeriodJournal,
        query: TaskQuery,
        installation: str,
        now: Now,
        listing: PeriodTasks,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.trigon = trigon
        self.uku = uku
        self.review = review
        self.run = run
        self.rules = rules
        """How the period's actions are decided (monthly/actions.py); a ``look`` decides
        again with what it finds."""
        self.book = book
        self.period_query = query
        self.installation = installation
        self.now = now
        self.listing = listing
        """The period's tasks as this run reads them (monthly/task_listing.py)."""
        self.sleep = sleep
        self.fetch = fields_to_fetch(config.fields)

    # -- fetching ------------------------------------------------------------------------

    def count(self, link: ClientLink) -> Counted:
        """The mapped counts only: period counts over the window, snapshots on its end;
        a firm that cannot be counted gives its reason instead."""
        run = self.run
        try:
            counts = window_counts(
                self.trigon, link.trigon_id, self.fetch, run.window_start, run.window_end
            )
        except (FirmNotViewable, FirmNotFound, ImpossibleCount) as exc:
            return Counted(link, failure=exc.message)
        return Counted(link, counts)

    # -- carrying out ----------------------------------------------------------------------

    def carry_out(
        self, action: ClientAction, *, recorded: journal.Entry | None = None
    ) -> ClientOutcome:
        """Do one client's action for real; returns what was done.

        ``recorded``: the period's journal line of this client, if any; on ``--rerun`` a
        client the record holds gets its task made again when Uku no longer has it."""
        if action.kind in ("fail", "done"):  # nothing to write
            return ClientOutcome.planned(action)
        link = action.link
        identity = self.identity(link)
        if action.kind == "look" and action.announced is not None:
            # An earlier run sent a create and did not live to journal its answer: Uku may
            # hold that task without listing it yet. Look again once lists have caught up
            # (the period's listing answers if it was read late enough; else the run
            # re-reads once for every client waiting so, and this starts again).
            writer = self.writer()
            again = functools.partial(self.carry_out, action, recorded=recorded)
            found = writer.lookup(identity, writer.ready(action.announced), again).task
            counted = Counted(link, action.plan.counts)
            action = with_counts(counted, self.rules, found=found, recorded=recorded)
            if not action.ok:
                raise ClientFailed(action.plan, action.error or "failed")
        plan = action.plan
        if action.kind == "leave":  # --rerun: nothing to write for this client
            return ClientOutcome(plan, ok=True)
        outcome = ClientOutcome(plan, ok=True)
        return self._recorded(
            lambda: self.write(plan, identity, outcome), outcome, recorded=recorded
        )

    def _recorded(
        self,
        write: Callable[[], int],
        outcome: ClientOutcome,
        *,
        recorded: journal.Entry | None,
    ) -> ClientOutcome:
        """``write`` the task, then record it (review, journal); a write that waits for a
        re-read of the listing (:class:`Later`) is recorded when it is resumed."""
        plan, link = outcome.plan, outcome.plan.link
        try:
            task_id = write()
        except ApiError as exc:
            # The data or this client is refused (validation, deleted client, counts not
            # kept, creates never confirmed): this client fails, the others go on.
            # Unreachable services raise ServiceUnavailable instead.
            raise ClientFailed(plan, exc.message) from None
        except Later as later:
            resumed = functools.partial(
                self._recorded,
                cast("Callable[[], int]", later.resume),
                outcome,
                recorded=recorded,
            )
            raise Later(later.ready, resumed) from None
        outcome.task_id = task_id
        run, targets, now = self.run, self.rules.targets, self.now()
        along = None
        if not self.rules.rerun or _replaces(recorded, task_id):
            entry = journal.Entry(
                link.trigon_id, link.uku_client_id, task_id, plan.action, dict(plan.counts)
            )
            along = functools.partial(self._done, entry, now)
        # The ledger's row and the journal's in one transaction: a run killed between two
        # commits left the ledger's, and the next run, finding the client not done,
        # adopted its task and wrote the ledger a second row for it.
        self.review.record(plan, run, targets, task_id, now, along=along)
        return outcome

    def _done(self, entry: journal.Entry, at: dt.datetime, con: sqlite3.Connection) -> None:
        self.book.append(entry, at, within=con)

    def write(self, plan: ClientPlan, identity: TaskIdentity, outcome: ClientOutcome) -> int:
        """Create or update the task as planned, then complete it; returns the task id."""
        link, values = plan.link, self.rules.targets.values(plan.counts)
        writer = self.writer()
        if plan.action == "create":
            draft = TaskDraft(
                title=self.config.summary.title_for(self.run.period),
                client_id=link.uku_client_id,
                topic_id=self.period_query.topic_id,
                date=self.run.import_day,
                description=identity.describe(description(self.run)),
                custom_fields=values,
            )
            try:
                written = writer.create(
                    identity,
                    draft,
                    idempotency_key(self.uku.company, identity),
                    lambda at: self.book.intend(link.trigon_id, link.uku_client_id, at),
                )
            except Later as later:  # finished when the run resumes it after a re-read
                raise later.then(lambda w: self._applied(cast("Written", w), outcome)) from None
        elif plan.action == "update" and plan.task_id is not None:
            written = writer.update(plan.task_id, values)
        elif plan.task_id is not None:  # exists: only completion can be left to do
            if plan.complete:
                self.uku.complete_task(plan.task_id)
                outcome.completed = True
            return plan.task_id
        else:  # pragma: no cover - decide() never plans this
            raise ApiError("no task to write", status=0)
        return self._applied(written, outcome)

    def _applied(self, written: Written, outcome: ClientOutcome) -> int:
        """What a write did, into this client's outcome; completes the task if asked to."""
        link = outcome.link
        outcome.created, outcome.updated = written.created, written.updated
        if written.warning:
            outcome.warning = f"{link.name} ({link.registration_code}): {written.warning}"
        if self.rules.auto_complete and written.task.status != "finished":
            self.uku.complete_task(written.task.id)
            outcome.completed = True
        return written.task.id

    def writer(self) -> SummaryTaskWriter:
        return SummaryTaskWriter(
            self.uku,
            field_names={t.field_id: t.field_name for t in self.rules.targets.fields},
            settler=Settler.for_settings(self.config.uku, self.now, self.sleep),
            listing=self.listing,
        )

    def identity(self, link: ClientLink) -> TaskIdentity:
        return task_identity(self.installation, link, self.run)

    @staticmethod
    def query(run: Run, topic_id: int) -> TaskQuery:
        return TaskQuery.for_period(topic_id, run.window_start, run.import_day)


def task_identity(installation: str, link: ClientLink, run: Run) -> TaskIdentity:
    """What makes a summary task this client's of this period, from this installation."""
    return TaskIdentity(
        installation=installation,
        client_id=link.uku_client_id,
        period=run.period,
        legacy_firm=link.trigon_id,
    )


def _replaces(recorded: journal.Entry | None, task_id: int) -> bool:
    """Whether a --rerun must record ``task_id``: it leaves the period's record alone
    unless the task the record names was lost and another (or the same, moved back)
    holds the counts now."""
    return recorded is not None and (recorded.lost is not None or recorded.task != task_id)
