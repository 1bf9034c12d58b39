"""Writing one client's summary task so that Uku holds exactly one, holding the counts sent.

Nothing about the real Uku may be trusted to prevent a second task (docs/uku-api.md,
"Evidence"): the Idempotency-Key is silently ignored on most paths, filters Uku does not
know are dropped, lists may lag behind writes, descriptions come back rewritten. So:

* **A create is sent only when Uku was read and our task is absent** (monthly/task_identity.py
  says what "ours" means). Before each create a line is fsync'd in the period's journal
  (``intend``), so a run that dies before the answer leaves a trace.
* **A create whose outcome is unknown** (timeout, dropped connection, 5xx, 409
  ``IDEMPOTENCY_CONFLICT``) is never repeated blindly. The writer waits until Uku's
  lists have caught up (``settle_seconds`` after the failure), looks again through the
  period's listing (monthly/task_listing.py: one re-read of the newest pages serves every
  client whose answer was lost meanwhile), adopts the task if it is there, and only then
  sends the create again
  (same key: if Uku honours it, the first create is replayed). After
  :data:`ATTEMPTS` unconfirmed creates the client fails with a reason; the next run
  looks again. A missing task is repaired by the next run; a doubled one is a doubled
  invoice.
* **A replayed create** (``Idempotency-Replayed: true``) is checked by a GET of the task
  it names: that task may have been deleted in Uku since.
* **What was billed is read back.** After a create or an update the custom-field values
  Uku returned (or, if they differ, a fresh GET) must equal the counts sent; otherwise
  the client fails naming the field. A task whose description lost our marker is kept
  (its journal line stops a second create) with a warning.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

from trigon_sync.errors import ApiError, WriteUnconfirmed
from trigon_sync.monthly.plan import count_mismatches
from trigon_sync.monthly.task_identity import Found, TaskIdentity, find
from trigon_sync.monthly.task_listing import Later, PeriodTasks
from trigon_sync.uku import Task, TaskChanges, TaskDraft, UkuClient
from trigon_sync.uku.settling import Settler

ATTEMPTS = 3
"""Creates of one task per run whose outcome stayed unknown before the client fails."""

Intend = Callable[[dt.datetime], None]
Resume = Callable[[], object]


@dataclass(frozen=True)
class Look:
    """A look at the listing a create waits for: from when (``ready``), the key to send
    with if the task is absent, and whether it follows a lost answer (then a task found
    was created by this create)."""

    ready: dt.datetime
    next_key: str
    lost: bool = False


@dataclass(frozen=True)
class Written:
    """What the writer did to one task."""

    task: Task
    created: bool = False
    updated: bool = False
    warning: str | None = None


class CountsNotKept(ApiError):
    """Uku answered, but the task does not hold the counts that were sent."""


class SummaryTaskWriter:
    """Creates, adopts or updates one client's summary task against a misbehaving Uku."""

    def __init__(
        self,
        uku: UkuClient,
        *,
        field_names: Mapping[int, str],
        settler: Settler,
        listing: PeriodTasks,
    ) -> None:
        self.uku = uku
        self.field_names = field_names
        self.settler = settler
        self.listing = listing
        self.now = settler.now

    # -- reading ------------------------------------------------------------------------

    def lookup(self, identity: TaskIdentity, ready: dt.datetime, resume: Resume) -> Found:
        """One client's task as Uku lists it at ``ready`` (``settle_seconds`` after a
        create was sent or failed). The period's listing answers when it was read that
        late; otherwise :class:`Later` hands ``resume`` to the run, which re-reads once
        for every client waiting so and then resumes them."""
        if not self.listing.covers(ready):
            raise Later(ready, resume)
        return find(identity, self.listing.tasks)

    def ready(self, since: dt.datetime) -> dt.datetime:
        """When a create sent (or failed) at ``since`` shows in Uku's lists."""
        return since + dt.timedelta(seconds=self.settler.settle_seconds)

    # -- writing ------------------------------------------------------------------------

    def create(
        self,
        identity: TaskIdentity,
        draft: TaskDraft,
        key: str,
        intend: Intend,
        *,
        attempt: int = 0,
        look: Look | None = None,
    ) -> Written:
        """Create the task unless Uku turns out to hold it already (then adopt it).

        ``attempt`` and ``look`` resume a create that had to wait for a re-read of the
        listing (:class:`Later`): how many creates were sent, and what to look for.
        """
        # a summary draft carries only the plan's counts (Targets.values)
        values = cast("Mapping[int, int]", draft.custom_fields)
        while True:
            if look is not None:
                resume = functools.partial(
                    self.create, identity, draft, key, intend, attempt=attempt, look=look
                )
                found = self.lookup(identity, look.ready, resume)
                if found.task is not None:
                    written = self.adopt(found.task, values)
                    # a lost answer's create did arrive: it counts as created
                    return dataclasses.replace(written, created=look.lost or written.created)
                key, look = look.next_key, None  # proven absent: send it again
            if attempt >= ATTEMPTS:
                raise ApiError(
                    f"Uku did not confirm creating the summary task after {ATTEMPTS} "
                    "attempts, and it does not list one; nothing more was sent",
                    status=0,
                    code="UNCONFIRMED",
                    hint="run again later: the next run looks in Uku before it creates anything",
                )
            attempt += 1
            sent_at = self.now()
            intend(sent_at)
            try:
                task = self.uku.create_task(draft, key)
            except WriteUnconfirmed:
                # Measured from the failure, not the send: a request we gave up on may still
                # be queued in Uku and commit later than its answer was due. Sent again
                # with the same key (a replay if Uku honours it).
                look = Look(self.ready(self.now()), key, lost=True)
                continue
            except ApiError as exc:
                if exc.code != "IDEMPOTENCY_KEY_REUSED":
                    raise
                # An earlier attempt with other counts committed under this key; if that
                # task was deleted since, a new key.
                look = Look(self.ready(sent_at), f"{key}-k")
                continue
            if task.replayed:
                current = self.uku.get_task(task.id)
                if current is not None and identity.matches(current):
                    return self.adopt(current, values)
                # Uku replayed a task that is gone: look now, then a new key
                look = Look(self.now(), f"{key}-r{task.id}")
                continue
            return self._created(identity, task, values)

    def adopt(self, task: Task, values: Mapping[int, int]) -> Written:
        """Our task exists: bring its counts to ``values`` if they differ."""
        if not count_mismatches(values, task):
            return Written(task)
        return self.update(task.id, values)

    def update(self, task_id: int, values: Mapping[int, int]) -> Written:
        task = self.uku.update_task(task_id, TaskChanges(custom_fields=values))
        return Written(self._verified(task, values), updated=True)

    def _created(self, identity: TaskIdentity, task: Task, values: Mapping[int, int]) -> Written:
        task = self._verified(task, values)
        if not identity.keeps_marker(task):
            fresh = self.uku.get_task(task.id)
            if fresh is not None:
                task = fresh
        warning = None
        if not identity.keeps_marker(task):
            warning = (
                f"Uku did not keep trigon-sync's marker in the description of task {task.id}; "
                "this period's journal still knows the task, but a later --rerun cannot "
                "find it — do not edit the marker line in Uku"
            )
        return Written(task, created=True, warning=warning)

    def _verified(self, task: Task, values: Mapping[int, int]) -> Task:
        """``task`` as Uku holds it, once its counts are proven to be ``values``."""
        wrong = count_mismatches(values, task)
        if wrong:
            fresh = self.uku.get_task(task.id)
            if fresh is not None:
                task = fresh
                wrong = count_mismatches(values, task)
        if wrong:
            listed = "; ".join(
                f"{self.field_names.get(fid, f'field {fid}')!r} sent {sent}, holds "
                f"{'nothing' if held is None else repr(held)}"
                for fid, sent, held in wrong
            )
            raise CountsNotKept(
                f"Uku did not keep the counts of task {task.id}: {listed}",
                status=0,
                code="COUNTS_NOT_KEPT",
                hint="check the field's type in Uku (number or integer) and the mapping "
                "with `trigon-sync map-fields --show`",
            )
        return task
