"""Whether the tasks a period's journal records are still where the run put them.

A client is done for a period only while its task is there. Between two runs a person may
delete a summary task in Uku, or move it onto another client; the journal's "done" line
would then stand for a task that bills nobody (or the wrong client). So before a run
skips a client as done, it checks the recorded task against the period's listing it has
just read: listed on its client, it is there; listed on another client, it was moved.
A recorded task that is not listed at all is looked up by id before it counts as
deleted: the real Uku lists new tasks only after a while, and a person may have moved
the task's date past the listing's range, so "not listed" alone proves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from trigon_sync.monthly.task_identity import Claims
from trigon_sync.store.journal import Entry, Loss
from trigon_sync.uku.models import Task

Fetch = Callable[[int], Task | None]
"""A task by id, None when Uku has no such task (``UkuClient.get_task``)."""


def losses(
    recorded: Mapping[str, Entry], listed: Iterable[Task], fetch: Fetch, *, at: str
) -> dict[str, Loss]:
    """Firm id -> what happened to its recorded task, for each one no longer on its client.

    Entries already marked lost by an earlier run are not checked again: their client is
    not done, and the run's usual lookup by identity decides what to do for it.
    """
    by_id = {task.id: task for task in listed}
    found: dict[str, Loss] = {}
    for firm, entry in recorded.items():
        if entry.lost is not None:
            continue
        task = by_id.get(entry.task)
        if task is None:
            task = fetch(entry.task)
        if task is None:
            found[firm] = Loss(entry.task, entry.client, None, at)
        elif task.client_id != entry.client:
            found[firm] = Loss(entry.task, entry.client, task.client_id, at)
    return found


def claims(recorded: Mapping[str, Entry], lost: Mapping[str, Loss]) -> Claims:
    """Task id -> the client the records say it was made for: every task the journal has
    recorded, lost or not, so a moved task is never taken for its new client's own."""
    out: dict[int, int] = {}
    for entry in recorded.values():
        for loss in (entry.earlier, entry.lost):
            if loss is not None:
                out[loss.task] = loss.client
        out[entry.task] = entry.client
    for loss in lost.values():
        out[loss.task] = loss.client
    return out
