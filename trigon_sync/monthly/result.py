"""What a monthly run did (or, as a dry run, would do), per client and period.

These are the run's result objects, for the CLI to render and for the history record;
they are built by :mod:`trigon_sync.monthly.run` and read everywhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trigon_sync.errors import PartialFailure
from trigon_sync.monthly.actions import ClientAction
from trigon_sync.monthly.owing import Owed
from trigon_sync.monthly.plan import ClientPlan, period_json
from trigon_sync.schedule.rules import Run
from trigon_sync.store.journal import Loss
from trigon_sync.store.state import ClientLink


@dataclass
class ClientOutcome:
    """What happened to one client: the plan, and whether it is done in Uku."""

    plan: ClientPlan
    ok: bool
    error: str | None = None
    created: bool = False
    updated: bool = False
    completed: bool = False
    task_id: int | None = None
    """The task that holds the client's counts after a real run wrote or checked it."""
    warning: str | None = None
    """What the write noted for the run's warnings (the run collects them in client order)."""

    @classmethod
    def planned(cls, action: ClientAction) -> ClientOutcome:
        """The outcome ``action`` has as planned: what the dry run shows, and what the real
        run has for an action with nothing to write (``fail``, ``done``)."""
        return cls(action.plan, ok=action.ok, error=action.error)

    @property
    def link(self) -> ClientLink:
        return self.plan.link

    def failure_json(self) -> dict[str, Any]:
        return {
            "firm": self.link.trigon_id,
            "name": self.link.name,
            "registration_code": self.link.registration_code,
            "reason": self.error,
        }


@dataclass(frozen=True)
class Repair:
    """A client whose recorded task the run found gone from it in Uku, and what it did."""

    period: str
    link: ClientLink
    loss: Loss
    outcome: ClientOutcome | None
    """The client's outcome in this run; None when the run stopped before it."""
    dry_run: bool = False

    @property
    def task_now(self) -> int | None:
        """The task holding the client's counts after the repair (None: not yet)."""
        if self.outcome is None or not self.outcome.ok:
            return None
        return self.outcome.task_id

    def message(self) -> str:
        """One line for people and cron mail."""
        link, loss = self.link, self.loss
        what = (
            f"task {loss.task} for {link.name} ({link.registration_code or link.trigon_id}) "
            f"in {self.period} was {loss.described}"
        )
        stays = (
            f" (task {loss.task} still sits on client {loss.moved_to} with "
            f"{link.name}'s counts: delete it in Uku unless that client should be billed for it)"
            if loss.moved_to is not None
            else ""
        )
        if self.dry_run:
            if self.outcome is not None and not self.outcome.ok:
                return f"would not repair: {what}; {self.outcome.error}{stays}"
            return f"would repair: {what}; the real run will create it again{stays}"
        if self.outcome is None:
            return f"not repaired yet: {what}; the next run creates it again{stays}"
        if not self.outcome.ok:
            return (
                f"not repaired: {what}; making it again failed ({self.outcome.error}), the next "
                f"run tries again{stays}"
            )
        done = (
            f"created again as task {self.task_now}"
            if self.outcome.created
            else f"task {self.task_now} holds its counts now"
        )
        return f"repaired: {what}; {done}{stays}"

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "trigon_id": self.link.trigon_id,
            "name": self.link.name,
            "registration_code": self.link.registration_code,
            "task": self.loss.task,
            "found": self.loss.how,
            "moved_to": self.loss.moved_to,
            "task_now": self.task_now,
            "message": self.message(),
        }


def repairs(
    run: Run,
    links: Sequence[ClientLink],
    lost: Mapping[str, Loss],
    outcomes: Sequence[ClientOutcome],
    *,
    dry_run: bool,
) -> list[Repair]:
    """What became of each client whose recorded task the run found gone, in client order."""
    by_firm = {o.link.trigon_id: o for o in outcomes}
    return [
        Repair(run.period, link, lost[link.trigon_id], by_firm.get(link.trigon_id), dry_run)
        for link in links
        if link.trigon_id in lost
    ]


@dataclass
class PeriodResult:
    """One period: every linked client's outcome and whether the period is now complete."""

    run: Run
    outcomes: list[ClientOutcome] = field(default_factory=list)
    complete: bool = False
    not_started: int = 0
    repairs: list[Repair] = field(default_factory=list)
    """Clients whose recorded task was found deleted or moved in Uku."""
    late: bool = False
    """A retry of owed clients in an earlier, completed period (its own window)."""

    @property
    def failed(self) -> list[ClientOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def changed(self) -> list[ClientOutcome]:
        """Clients whose task gets (or got) other counts: updated, or a task made again."""
        return [o for o in self.outcomes if o.ok and o.plan.action in ("update", "create")]

    @property
    def finished_kept(self) -> list[ClientOutcome]:
        """Clients whose finished task a re-count left alone though its counts differ."""
        return [o for o in self.outcomes if o.ok and o.plan.finished]

    @property
    def unchanged(self) -> int:
        """Clients whose task keeps its counts (neither changed, kept finished, nor failed)."""
        return sum(
            1 for o in self.outcomes if o.ok and o not in self.changed and not o.plan.finished
        )

    def total_change(self) -> dict[str, int]:
        """Trigon field key -> how much the changed clients' counts go up together."""
        total: dict[str, int] = {}
        for outcome in self.changed:
            plan = outcome.plan
            for key in plan.changes:
                total[key] = total.get(key, 0) + plan.change(key)
        return total

    def to_json(self, names: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The period's object; ``names`` (Trigon key -> Uku field name) given only for a
        re-count, which adds what changes: per client ``changes`` and ``finished``, and
        the period's ``change``."""
        doc = period_json(self.run, (o.plan for o in self.outcomes))
        for client, outcome in zip(doc["clients"], self.outcomes, strict=True):
            if not outcome.ok:
                client["error"] = outcome.error
            if names is not None:
                client["changes"] = outcome.plan.changes_json(names)
                client["finished"] = outcome.plan.finished
        if names is None:
            return doc
        labels = names
        doc["change"] = {
            "clients_changed": len(self.changed),
            "clients_unchanged": self.unchanged,
            "finished_not_changed": len(self.finished_kept),
            "total": [
                {"field": key, "uku_field": labels.get(key, key), "change": change}
                for key, change in self.total_change().items()
            ],
        }
        return doc


@dataclass
class MonthlyResult:
    """Everything a run did (or, with ``dry_run``, would do) for the CLI to render."""

    today: dt.date
    dry_run: bool = False
    rerun: str | None = None
    periods: list[PeriodResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    deferred: list[Run] = field(default_factory=list)
    """Due periods not started because an earlier one is incomplete."""
    duration: float = 0.0
    requests: dict[str, Any] = field(default_factory=dict)
    field_names: dict[str, str] = field(default_factory=dict)
    """Trigon field key -> the Uku field it was written into, as Uku names it."""
    owed: list[Owed] = field(default_factory=list)
    """The (client, period) pairs still owed after this run (monthly/owing.py)."""

    @property
    def failed(self) -> list[ClientOutcome]:
        return [o for p in self.periods for o in p.failed]

    @property
    def repairs(self) -> list[Repair]:
        return [r for p in self.periods for r in p.repairs]

    @property
    def ok_count(self) -> int:
        return sum(1 for p in self.periods for o in p.outcomes if o.ok)

    def count(self, what: str) -> int:
        return sum(1 for p in self.periods for o in p.outcomes if getattr(o, what))

    def to_json(self) -> dict[str, Any]:
        """The issue's ``--json`` shape, plus totals after a real run."""
        doc: dict[str, Any] = {
            "periods": [p.to_json(self.field_names if self.rerun else None) for p in self.periods],
            "warnings": list(self.warnings),
            "repaired": [r.to_json() for r in self.repairs],
            "owed": [p.to_json(self.today) for p in self.owed],
        }
        if self.dry_run:  # what the real run would hold back and fail, nothing written
            doc.update(
                deferred=[r.period for r in self.deferred],
                clients_failed=[o.failure_json() for o in self.failed],
            )
        else:
            doc.update(
                dry_run=False,
                rerun=self.rerun,
                complete=[p.run.period for p in self.periods if p.complete],
                deferred=[r.period for r in self.deferred],
                clients_ok=self.ok_count,
                clients_failed=[o.failure_json() for o in self.failed],
                tasks_created=self.count("created"),
                tasks_updated=self.count("updated"),
                tasks_completed=self.count("completed"),
                duration_seconds=round(self.duration, 3),
            )
        return doc

    def partial_failure(self) -> PartialFailure | None:
        """The error the CLI exits with when some clients could not be done."""
        failed = self.failed
        if not failed and self.owed:
            pairs = "; ".join(f"{p.name} ({p.code or p.firm}) {p.period}" for p in self.owed)
            what = "would stay" if self.dry_run else "stay"
            return PartialFailure(
                f"{len(self.owed)} (client, period) pair(s) {what} owed: {pairs}",
                result=self,
                hint="each is retried first by every run on its own window; fix the reason, "
                "or `trigon-sync waive CODE --period P --reason TEXT`",
            )
        if not failed:
            return None
        # one entry per (client, period): a client failing in two periods is named twice,
        # each time with its period, and counted as pairs
        names = "; ".join(
            f"{o.link.name} ({o.link.registration_code}) {p.run.period}: {o.error}"
            for p in self.periods
            for o in p.failed
        )
        periods = ", ".join(dict.fromkeys(p.run.period for p in self.periods if p.failed))
        if self.dry_run:
            # each pair is said once: by its owed: line (with its reason and age) when it
            # would stay owed, else here
            owing = {(p.firm, p.period) for p in self.owed}
            unsaid = "; ".join(
                f"{o.link.name} ({o.link.registration_code}) {p.run.period}: {o.error}"
                for p in self.periods
                for o in p.failed
                if (o.link.trigon_id, p.run.period) not in owing
            )
            return PartialFailure(
                f"dry run: {len(failed)} (client, period) pair(s) would fail in {periods}"
                + (f": {unsaid}" if unsaid else ", each named with its reason on its owed: line"),
                result=self,
                hint="nothing was written; the real run would do the others and record each "
                "of these as owing its period, retried first by every later run "
                "(`trigon-sync unlink CODE` stops counting a client that has left)",
            )
        return PartialFailure(
            f"{len(failed)} (client, period) pair(s) failed in {periods}: {names}",
            result=self,
            hint="the others are done; each failed client owes its period and every run "
            "retries it first, on that period's own window (`trigon-sync unlink CODE` stops "
            "counting a client that has left; `trigon-sync waive CODE --period P --reason "
            "TEXT` gives up one period)",
        )
