"""The review before billing, as the monthly run meets it: flag, hold, and record a write.

monthly.py calls three things here and nothing more:

* :meth:`Review.assess` after a client's plan is decided: attaches the anomaly flags
  (anomalies.py) and, with ``[anomalies] hold = true``, turns a flagged client that the
  admin has not accepted (``trigon-sync accept``) into a held ``skip`` — the run then
  treats it like a failed client, so the period stays open and cron mail names it;
* :meth:`Review.record` right after a task's create/update succeeded (or the task was
  found holding the counts), before the journal line: appends to the ledger (ledger.py);
* :func:`hold_hint`, the command that releases a held client, for messages.

History for the flags is the ledger as it was when the run started (and, for periods
counted before the ledger existed, the period journals), plus what this run wrote (or, in
a dry run, would write) for earlier periods, so a catch-up night over November and
December judges December against November.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from trigon_sync import anomalies
from trigon_sync.config import AnomalySettings
from trigon_sync.monthly_plan import ClientPlan, Targets
from trigon_sync.schedule import Run
from trigon_sync.store import ledger
from trigon_sync.store.state import State

HELD = "held for review before billing"


def hold_hint(registration_code: str, period: str) -> str:
    return f"`trigon-sync accept {registration_code} --period {period}` lets it be written"


class Review:
    """Anomaly flags, holds and ledger records for one monthly run (or dry run)."""

    def __init__(
        self,
        settings: AnomalySettings,
        book: ledger.Ledger,
        *,
        dry_run: bool,
        writer: ledger.LedgerWriter | None = None,
    ) -> None:
        self.settings = settings
        self.dry_run = dry_run
        self.accepted = set(book.accepted)
        self.history: dict[str, dict[str, Mapping[str, int]]] = {
            firm: {w.period: w.counts for w in writes} for firm, writes in book.by_firm().items()
        }
        self.writer = writer or ledger.LedgerWriter(known=book.field_ids)

    @classmethod
    def open(
        cls, settings: AnomalySettings, *, dry_run: bool, state: State | None = None
    ) -> Review:
        """Read the ledger once for the run; with ``state``, periods counted before the
        ledger existed (an upgrade) lend their journal counts to the history."""
        review = cls(settings, ledger.load(), dry_run=dry_run)
        if state is not None:
            from trigon_sync.explain_records import read_journals  # the one reader of every journal

            for period, entries in read_journals(state).items():
                for firm, entry in entries.items():
                    review.history.setdefault(firm, {}).setdefault(period, dict(entry.counts))
        return review

    def _earlier(self, firm: str, period: str) -> list[Mapping[str, int]]:
        periods = self.history.get(firm, {})
        return [periods[p] for p in sorted(periods) if p < period]

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
            self.history.setdefault(link.trigon_id, {})[run.period] = dict(plan.counts)
        if not flags:
            return plan
        if not self.settings.hold or (link.trigon_id, run.period) in self.accepted:
            return dataclasses.replace(plan, flags=flags)
        reason = f"{HELD} ({'; '.join(f.message for f in flags)}); " + hold_hint(
            link.registration_code or link.trigon_id, run.period
        )
        return dataclasses.replace(plan, action="skip", flags=flags, held=True, reason=reason)

    def record(
        self, plan: ClientPlan, run: Run, targets: Targets, task_id: int, at: dt.datetime
    ) -> None:
        """Append what Uku now holds for this client and period to the ledger."""
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
        )
        self.history.setdefault(link.trigon_id, {})[run.period] = dict(plan.counts)
