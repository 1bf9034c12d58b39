"""The review before billing, as the monthly run meets it: flag, hold, and record a write.

monthly/run.py calls three things here and nothing more:

* :meth:`Review.assess` after a client's plan is decided: attaches the anomaly flags
  (billing/anomalies.py) and, with ``[anomalies] hold = true``, turns a flagged client that the
  admin has not accepted (``trigon-sync accept``) into a held ``skip`` — the run then
  treats it like a failed client, so the period stays open and cron mail names it;
* :meth:`Review.record` right after a task's create/update succeeded (or the task was
  found holding the counts): appends to the ledger (ledger.py), in one transaction with
  the client's journal row;
* :func:`hold_hint`, the command that releases a held client, for messages.

History for the flags is the ledger as it was when the run started (and, for periods
counted before the ledger existed, the period journals), plus what this run wrote (or, in
a dry run, would write) for earlier periods, so a catch-up night over November and
December judges December against November.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Mapping

from trigon_sync.billing import anomalies
from trigon_sync.monthly.plan import HELD, ClientPlan, Targets
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.shared_keys import SharedKeys
from trigon_sync.store import journal, ledger
from trigon_sync.store.state import State


def hold_hint(registration_code: str, period: str) -> str:
    return f"`trigon-sync accept {registration_code} --period {period}` lets it be written"


Kept = Mapping[str, int] | tuple[tuple[str, ...], tuple[int, ...]]
"""One period's counts in the history: a journal line's counts, or a ledger write's keys
(shared by every write of one mapping) and values, made a dict only when a check asks."""


class History:
    """Per firm, the counts of its periods that a run from ``first`` on can look at.

    A check judges a period against the newest ``depth`` periods before it, so for a run
    whose earliest period is ``first``, only each firm's newest ``depth`` periods before
    ``first`` can ever be looked at, plus every period from ``first`` on. Older ones are
    dropped as they are read: five years at 5,000 clients stay a few MB, and the flags are
    exactly those of the whole history.
    """

    def __init__(self, depth: int, first: str | None) -> None:
        self.depth = max(depth, 1)
        self.first = first
        self.by_firm: dict[str, dict[str, Kept]] = {}

    def add(self, firm: str, period: str, counts: Kept, *, replace: bool = True) -> None:
        """Keep ``counts`` (``replace`` False: only where the period has none yet)."""
        periods = self.by_firm.setdefault(firm, {})
        if not replace and period in periods:
            return
        # kept to the run's end for every client: its keys shared with the others'
        periods[period] = counts if isinstance(counts, tuple | SharedKeys) else SharedKeys(counts)
        first = self.first
        if first is not None and period < first:
            older = [p for p in periods if p < first]
            if len(older) > self.depth:
                del periods[min(older)]

    def look_back(self, firms: Iterable[str]) -> tuple[str | None, set[str]]:
        """Which journal lines could still change what is kept for ``firms``: every line
        from the returned period on (None: every period), and before it only the lines of
        the returned firms, which have fewer than ``depth`` periods before ``first``."""
        first = self.first
        if first is None:
            return None, set()
        lowest, short = first, set()
        for firm in firms:
            older = [p for p in self.by_firm.get(firm, {}) if p < first]
            if len(older) < self.depth:
                short.add(firm)
            else:
                lowest = min(lowest, min(older))
        return lowest, short

    def missing(self, firms: Iterable[str], period: str) -> set[str]:
        """The ``firms`` whose kept counts a line of ``period`` would change: none kept
        for it, and it is newer than the oldest they keep before ``first`` (or they keep
        fewer than ``depth`` before it)."""
        first = self.first
        found = set()
        for firm in firms:
            periods = self.by_firm.get(firm, {})
            if period in periods:
                continue
            older = [p for p in periods if first is not None and p < first]
            if first is None or period >= first or len(older) < self.depth or period > min(older):
                found.add(firm)
        return found

    def earlier(self, firm: str, period: str) -> list[Mapping[str, int]]:
        periods = self.by_firm.get(firm, {})
        return [_counts(periods[p]) for p in sorted(periods) if p < period]


def _counts(kept: Kept) -> Mapping[str, int]:
    if isinstance(kept, tuple):
        keys, values = kept
        return dict(zip(keys, values, strict=True))
    return kept


class Review:
    """Anomaly flags, holds and ledger records for one monthly run (or dry run)."""

    def __init__(
        self,
        settings: AnomalySettings,
        history: History,
        accepted: set[tuple[str, str]],
        field_ids: Iterable[str],
        *,
        dry_run: bool,
        writer: ledger.LedgerWriter | None = None,
    ) -> None:
        self.settings = settings
        self.dry_run = dry_run
        self.accepted = accepted
        self.history = history
        self.writer = writer or ledger.LedgerWriter(known=field_ids)

    @classmethod
    def open(
        cls,
        settings: AnomalySettings,
        *,
        dry_run: bool,
        state: State | None = None,
        first: str | None = None,
    ) -> Review:
        """Read from the ledger what the checks can look at, streamed; with ``state``,
        periods counted before the ledger existed (an upgrade) lend their journal counts to
        the history. ``first``: the run's earliest period (None: the whole ledger; see
        :class:`History`).

        With ``first``, the ledger is read by index: each firm's newest ``history_periods``
        periods before ``first`` (:func:`ledger.newest_before`) and every write from
        ``first`` on, so five years cost what half a year does."""
        history = History(settings.history_periods, first)
        accepted: set[tuple[str, str]] = set()
        field_ids: set[str] = set()
        if first is not None:
            for write in ledger.newest_before(first, history.depth):
                history.add(write.firm, write.period, (write.keys, write.values))
        for item in ledger.entries(since=first):
            if isinstance(item, ledger.Written):
                history.add(item.firm, item.period, (item.keys, item.values))  # later: newer
            elif isinstance(item, ledger.Accepted):
                accepted.add((item.firm, item.period))
            else:
                field_ids.add(item.id)
        if state is not None:
            since, short = history.look_back(state.links)
            for run in period_record.known_runs(state):
                if since is None:
                    firms = None
                elif run.period >= since:  # a journal line never replaces a ledger write
                    firms = history.missing(state.links, run.period)
                else:
                    firms = short
                if firms is not None and not firms:
                    continue  # every linked firm has this period, or enough newer ones
                for firm, entry in journal.read_period(run, firms).items():
                    history.add(firm, run.period, entry.counts, replace=False)
        return cls(settings, history, accepted, field_ids, dry_run=dry_run)

    def _earlier(self, firm: str, period: str) -> list[Mapping[str, int]]:
        return self.history.earlier(firm, period)

    def assess(self, plan: ClientPlan, run: Run, targets: Targets) -> ClientPlan:
        """The plan with its flags; held (action ``skip``) when it must wait for ``accept``."""
        if plan.action == "skip" or not plan.counts:
            return plan
        link = plan.link
        labels = {t.key: t.field_name for t in targets.fields}
        flags = anomalies.check(
            plan.counts, self._earlier(link.trigon_id, run.period), self.settings, labels
        )
        if self.dry_run:
            self.history.add(link.trigon_id, run.period, plan.counts)
        if not flags:
            return plan
        if not self.settings.hold or (link.trigon_id, run.period) in self.accepted:
            return dataclasses.replace(plan, flags=flags)
        reason = f"{HELD} ({'; '.join(f.message for f in flags)}); " + hold_hint(
            link.registration_code or link.trigon_id, run.period
        )
        return dataclasses.replace(plan, action="skip", flags=flags, held=True, reason=reason)

    def record(
        self,
        plan: ClientPlan,
        run: Run,
        targets: Targets,
        task_id: int,
        at: dt.datetime,
        along: Callable[[sqlite3.Connection], None] | None = None,
    ) -> None:
        """Append what Uku now holds for this client and period to the ledger, in one
        transaction with ``along`` (the journal's row of the client)."""
        link = plan.link
        self.writer.write(
            period=run.period,
            firm=link.trigon_id,
            registration_code=link.registration_code,
            name=link.name,
            uku_client=link.uku_client_id,
            task=task_id,
            action=plan.action,
            mapping=tuple((t.key, t.field_name) for t in targets.fields),
            counts=plan.counts,
            at=at,
            along=along,
        )
        self.history.add(link.trigon_id, run.period, plan.counts)
