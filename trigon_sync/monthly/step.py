"""One client of one period: fetch its counts, decide, and (in a real run) write its task.

The same step serves the real run and the dry run, so a dry run shows exactly what the real
run then does: it stops right before the first write. A client that cannot be done now
(no View, firm gone, an impossible count, held for review, Uku refusing the data) raises
:class:`ClientFailed` with the reason; the others go on. Trouble that is not about one
client (a service unreachable, a revoked connection) propagates and stops the run.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import cast

from trigon_sync.errors import ApiError
from trigon_sync.monthly.plan import (
    ClientPlan,
    Targets,
    decide,
    description,
    fields_to_fetch,
    firm_problem,
    idempotency_key,
    skipped,
)
from trigon_sync.monthly.result import ClientOutcome, MonthlyResult
from trigon_sync.monthly.review import HELD, Review
from trigon_sync.monthly.task_identity import Found, TaskIdentity, TaskQuery
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
from trigon_sync.uku.settling import Settler

Now = Callable[[], dt.datetime]


class ClientFailed(Exception):
    """Internal: this client cannot be done now (the reason goes in the report)."""

    def __init__(self, plan: ClientPlan, reason: str) -> None:
        super().__init__(reason)
        self.plan = plan
        self.reason = reason


class ClientStep:
    """What a run does for one client, with the run's clients, settings and review."""

    def __init__(
        self,
        config: Config,
        trigon: TrigonClient,
        uku: UkuClient,
        review: Review,
        *,
        installation: str,
        now: Now,
        listing: PeriodTasks,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.listing = listing
        """The period's tasks as this run reads them (monthly/task_listing.py)."""
        self.config = config
        self.trigon = trigon
        self.uku = uku
        self.review = review
        self.installation = installation
        self.now = now
        self.sleep = sleep
        self.fetch = fields_to_fetch(config.fields)
        self.auto_complete = config.summary.auto_complete
        self.include_finished = False
        """``--rerun --include-finished``: a task Uku shows as finished is changed too."""
        self._warnings_lock = threading.Lock()

    def do(
        self,
        link: ClientLink,
        run: Run,
        targets: Targets,
        listed: Mapping[str, bool] | None,
        found: Found,
        intended: dt.datetime | None,
        book: journal.PeriodJournal,
        identity: TaskIdentity,
        query: TaskQuery,
        result: MonthlyResult,
        *,
        rerun: bool,
        recorded: journal.Entry | None = None,
        dry_run: bool = False,
    ) -> ClientOutcome:
        """One client's step, the same for a real run and a dry run: the dry run stops
        right before the first write, with the plan the real run would carry out.

        ``recorded``: the period's journal line of this client, if any; on ``--rerun`` a
        client the record holds gets its task made again when Uku no longer has it."""
        problem = firm_problem(link, listed)
        if problem:
            raise ClientFailed(skipped(link, problem), problem)
        try:
            counts = self.counts(link, run)
        except (FirmNotViewable, FirmNotFound, ImpossibleCount) as exc:
            raise ClientFailed(skipped(link, exc.message), exc.message) from None
        writer = self.writer(targets)
        existing = found.task
        if intended is not None and existing is None and not dry_run:
            # An earlier run sent a create and did not live to journal its answer: Uku may
            # hold that task without listing it yet. Look again once lists have caught up
            # (the period's listing answers if it was read late enough; else the run
            # re-reads once for every client waiting so, and this step starts again).
            again = functools.partial(
                self.do, link, run, targets, listed, found, intended, book, identity, query,
                result, rerun=rerun, recorded=recorded, dry_run=dry_run,
            )  # fmt: skip
            existing = writer.lookup(identity, writer.ready(intended), again).task
        plan = decide(
            link,
            targets,
            counts,
            existing,
            auto_complete=self.auto_complete,
            rerun=rerun,
            restore=recorded is not None,
            include_finished=self.include_finished,
        )
        plan = self.review.assess(plan, run, targets)
        if plan.held:  # flagged and not accepted: waits like a failed client
            raise ClientFailed(plan, plan.reason or HELD)
        if plan.action == "skip" or dry_run:  # --rerun skips a client without a task
            return ClientOutcome(plan, ok=True)
        outcome = ClientOutcome(plan, ok=True)
        return self._recorded(
            lambda: self.write(plan, run, targets, identity, query, book, outcome, result),
            outcome,
            run,
            targets,
            book,
            counts,
            rerun=rerun,
            recorded=recorded,
        )

    def _recorded(
        self,
        write: Callable[[], int],
        outcome: ClientOutcome,
        run: Run,
        targets: Targets,
        book: journal.PeriodJournal,
        counts: dict[str, int],
        *,
        rerun: bool,
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
                self._recorded, cast("Callable[[], int]", later.resume), outcome, run,
                targets, book, counts, rerun=rerun, recorded=recorded,
            )  # fmt: skip
            raise Later(later.ready, resumed) from None
        outcome.task_id = task_id
        self.review.record(plan, run, targets, task_id, self.now())  # before the journal line
        if not rerun or _replaces(recorded, task_id):
            book.append(
                journal.Entry(link.trigon_id, link.uku_client_id, task_id, plan.action, counts),
                self.now(),
            )
        return outcome

    def write(
        self,
        plan: ClientPlan,
        run: Run,
        targets: Targets,
        identity: TaskIdentity,
        query: TaskQuery,
        book: journal.PeriodJournal,
        outcome: ClientOutcome,
        result: MonthlyResult,
    ) -> int:
        """Create or update the task as planned, then complete it; returns the task id."""
        link, values = plan.link, targets.values(plan.counts)
        writer = self.writer(targets)
        if plan.action == "create":
            draft = TaskDraft(
                title=self.config.summary.title_for(run.period),
                client_id=link.uku_client_id,
                topic_id=query.topic_id,
                date=run.import_day,
                description=identity.describe(description(run)),
                custom_fields=values,
            )
            try:
                written = writer.create(
                    identity,
                    draft,
                    idempotency_key(self.uku.company, identity),
                    lambda at: book.intend(link.trigon_id, link.uku_client_id, at),
                )
            except Later as later:  # finished when the run resumes it after a re-read
                raise later.then(
                    lambda w: self._applied(cast("Written", w), link, outcome, result)
                ) from None
        elif plan.action == "update" and plan.task_id is not None:
            written = writer.update(plan.task_id, values)
        elif plan.task_id is not None:  # exists: only completion can be left to do
            if plan.complete:
                self.uku.complete_task(plan.task_id)
                outcome.completed = True
            return plan.task_id
        else:  # pragma: no cover - decide() never plans this
            raise ApiError("no task to write", status=0)
        return self._applied(written, link, outcome, result)

    def _applied(
        self, written: Written, link: ClientLink, outcome: ClientOutcome, result: MonthlyResult
    ) -> int:
        """What a write did, into the outcome; completes the task if asked to."""
        outcome.created, outcome.updated = written.created, written.updated
        if written.warning:
            with self._warnings_lock:
                result.warnings.append(f"{link.name} ({link.registration_code}): {written.warning}")
        if self.auto_complete and written.task.status != "finished":
            self.uku.complete_task(written.task.id)
            outcome.completed = True
        return written.task.id

    def writer(self, targets: Targets) -> SummaryTaskWriter:
        return SummaryTaskWriter(
            self.uku,
            field_names={t.field_id: t.field_name for t in targets.fields},
            settler=Settler(self.config.uku.settle_seconds, self.now, self.sleep),
            listing=self.listing,
        )

    def identity(self, link: ClientLink, run: Run) -> TaskIdentity:
        return TaskIdentity(
            installation=self.installation,
            client_id=link.uku_client_id,
            period=run.period,
            legacy_firm=link.trigon_id,
        )

    @staticmethod
    def query(run: Run, topic_id: int) -> TaskQuery:
        return TaskQuery.for_period(topic_id, run.window_start, run.import_day)

    def counts(self, link: ClientLink, run: Run) -> dict[str, int]:
        """The mapped counts only: period counts over the window, snapshots on its end."""
        return window_counts(
            self.trigon, link.trigon_id, self.fetch, run.window_start, run.window_end
        )

    # -- plumbing ------------------------------------------------------------------------


def _replaces(recorded: journal.Entry | None, task_id: int) -> bool:
    """Whether a --rerun must record ``task_id``: it leaves the period's record alone
    unless the task the record names was lost and another (or the same, moved back)
    holds the counts now."""
    return recorded is not None and (recorded.lost is not None or recorded.task != task_id)
