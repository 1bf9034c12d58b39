"""The local records ``explain`` answers from: each period's journal lines and run failures.

:func:`read_journals` is the one function of ``explain`` that reads records: one client's
rows of each period's journal (store/journal.py, read by index from the records
database), with the counts Uku holds now from the ledger (ledger.py: a ``--rerun``
changes those).
:func:`failures_by_period` sorts the failures in the run history by period.

Failures in a run record carry no period; they belong to the record's one period that did
not complete (a run stops at the first incomplete period), or to the period a ``--rerun``
re-counted. A failure entry with its own ``period`` key is taken at its word.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from trigon_sync.records import periods as period_record
from trigon_sync.records.tables import RunRecord
from trigon_sync.store import journal, ledger
from trigon_sync.store.state import State


@dataclass(frozen=True)
class Failure:
    """One run that failed for this client in this period."""

    at: str
    reason: str
    rerun: bool = False
    """A ``run-monthly --rerun`` re-count: it comes after the task, not before it."""


def read_journals(
    state: State,
    firm: str,
    periods: Collection[str] | None = None,
) -> dict[str, dict[str, journal.Entry]]:
    """``firm``'s line in each period state knows a window for (archived or open), or only
    in ``periods``, with the counts Uku holds now from the ledger.

    Only this firm's rows of those periods are read, by index (five years at 5,000
    clients are millions of rows, of which explain needs 60), and only its ledger writes.
    """
    runs = [r for r in period_record.known_runs(state) if periods is None or r.period in periods]
    if not runs:
        return {}
    book = ledger.load(since=min(r.period for r in runs), firms={firm})
    found: dict[str, dict[str, journal.Entry]] = {}
    for run in runs:
        entries = journal.read_period(run, {firm})
        write = book.writes.get((firm, run.period))
        if write is not None:
            # The ledger has the newest write (a --rerun updates no journal line); the
            # journal keeps how the task came to be.
            earlier = entries.get(firm)
            action = earlier.action if earlier is not None else write.action
            same = earlier is not None and earlier.task == write.task
            entries[firm] = journal.Entry(
                firm,
                write.uku_client,
                write.task,
                action,
                write.counts,
                # what a run found about the task: gone, or made again in place of another
                lost=earlier.lost if same and earlier is not None else None,
                earlier=earlier.earlier if same and earlier is not None else None,
            )
        if entries:
            found[run.period] = entries
    return found


def failures_by_period(history: Iterable[RunRecord], firm_id: str) -> dict[str, list[Failure]]:
    """period -> the runs that failed for ``firm_id``, oldest first (see the module docstring)."""
    found: dict[str, list[Failure]] = {}
    for record in history:
        if not record.is_monthly:
            continue
        periods = record.periods
        open_periods = [p for p in periods if p not in record.complete]
        default = open_periods[-1] if open_periods else (periods[-1] if periods else None)
        for item in record.failures:
            if item.firm != firm_id:
                continue
            period = item.period or default
            if period:
                found.setdefault(period, []).append(
                    Failure(record.at or "?", item.reason, rerun=record.is_rerun)
                )
    return found
