"""What a monthly run did (or, as a dry run, would do), per client and period.

These are the run's result objects, for the CLI to render and for the history record;
they are built by :mod:`trigon_sync.monthly.run` and read everywhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trigon_sync.errors import PartialFailure
from trigon_sync.monthly.actions import ClientAction
from trigon_sync.monthly.owing import Owed
from trigon_sync.monthly.plan import ClientPlan, period_json
from trigon_sync.schedule.rules import Run
from trigon_sync.store.journal import Loss
from trigon_sync.store.state import ClientLink


@dataclass(slots=True)
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
    notes: list[str] = field(default_factory=list)
    """What the run itself tells the admin, once (a home restored from a backup:
    store/restore_mark.py): ``note:`` lines on stderr, also under cron, and in the log."""
    deferred: list[Run] = field(default_factory=list)
    """Due periods not started because the run was stopped (a signal, its time bound)."""
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
            "notes": list(self.notes),
            "repaired": [r.to_json() for r in self.repairs],
            "owed": [p.to_json(self.today) for p in self.owed],
        }
        if self.dry_run:  # what the real run would fail, nothing written
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

    def unowed_failures(self) -> list[tuple[str, ClientOutcome]]:
        """(period, outcome) of each failure no ``owed:`` line names: a re-count's, or one
        in a period the run stopped in. Each (client, period) is said once: an owed pair
        on its ``owed:`` line (reason and age), these on a ``failed:`` line of their own."""
        owing = {(p.firm, p.period) for p in self.owed}
        return [
            (p.run.period, o)
            for p in self.periods
            for o in p.failed
            if (o.link.trigon_id, p.run.period) not in owing
        ]

    def partial_failure(self) -> PartialFailure | None:
        """The error the CLI exits with when some (client, period) pairs are not done.

        A bounded summary (counts and periods, no names): each pair is named above it, on
        its ``owed:`` or ``failed:`` line, so cron mail stays readable with hundreds of
        failing clients. The dry run says the same words as the real run (and exits the
        same), so its ``--quiet`` mail is the real run's."""
        failed = self.unowed_failures()
        if not failed and not self.owed:
            return None
        parts = []
        if self.owed:
            parts.append(f"owed in {_periods(p.period for p in self.owed)}")
        if failed:
            parts.append(f"failed in {_periods(period for period, _ in failed)}")
        if self.owed and failed:
            said = f"{len(self.owed)} {parts[0]} and {len(failed)} {parts[1]}"
        else:
            said = parts[0]
        if self.rerun:
            hint = (
                f"the re-count of {self.rerun} is incomplete: those tasks may hold the earlier "
                f"counts until `trigon-sync run-monthly --rerun {self.rerun}` succeeds"
            )
        elif self.owed:
            hint = (
                "every run retries an owed pair first, on its period's own window; "
                "`trigon-sync explain CODE --period P` says what clears one"
            )
        else:
            hint = "the next run tries them again"
        return PartialFailure(
            f"{len(self.owed) + len(failed)} (client, period) pair(s) {said}; each is named above",
            result=self,
            hint=hint,
        )


PERIODS_NAMED = 3
"""More periods than this are said as a range, so the error line stays short."""


def _periods(periods: Iterable[str]) -> str:
    """``2024-10, 2024-11``, or ``7 periods 2024-01..2024-12`` when there are many."""
    unique = sorted(set(periods))
    if len(unique) <= PERIODS_NAMED:
        return ", ".join(unique)
    return f"{len(unique)} periods {unique[0]}..{unique[-1]}"
