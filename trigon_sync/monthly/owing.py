"""Which owed (client, period) pairs a run retries first, and which are owed after it.

A client that fails in a period whose run was attempted for every client owes that
period (store/owed.py). Every later run retries the owed pairs of linked clients first,
oldest period first, each on its period's own completed window (state.toml's
``[journal.completed]``), never a merged or shifted one. An unlinked client's pairs stay
recorded but are not retried; a waived pair is never retried.

:func:`after_run` works out, from the pairs owed before the run and the run's outcomes,
the pairs owed after it: the same answer for the real run (which writes it) and the dry
run (which only shows it), so both print the same ``owed:`` lines and exit code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run
from trigon_sync.store import owed, run_history

if TYPE_CHECKING:
    from trigon_sync.monthly.result import MonthlyResult
    from trigon_sync.store.state import State


@dataclass(frozen=True)
class Owed:
    """One owed pair as a run reports it: who, which period, why, since when."""

    firm: str
    name: str
    code: str
    period: str
    reason: str
    since: str
    """The Tallinn date it was first owed (ISO; store/owed.py)."""

    def age_days(self, today: dt.date) -> int:
        return owed.days_owed(self.since, today)

    def line(self, today: dt.date) -> str:
        """One line for cron mail: the pair, how long it is owed, and why."""
        days = self.age_days(today)
        return (
            f"owed: {self.name} ({self.code or self.firm}) period {self.period}, owed for "
            f"{days} day{'' if days == 1 else 's'}: {self.reason}"
        )

    def to_json(self, today: dt.date) -> dict[str, Any]:
        return {
            "firm": self.firm,
            "name": self.name,
            "registration_code": self.code,
            "period": self.period,
            "reason": self.reason,
            "owed_since": self.since,
            "owed_days": self.age_days(today),
        }


def stored(state: State) -> list[Owed]:
    """The owed pairs of linked clients, oldest period first (unlinked ones are not
    retried; their rows stay for ``explain``)."""
    links = {link.trigon_id: link for link in state.links.values()}
    return [
        Owed(
            p.firm,
            links[p.firm].name,
            links[p.firm].registration_code or "",
            p.period,
            p.reason,
            p.since,
        )
        for p in owed.pairs()
        if p.firm in links
    ]


def retries(state: State, pairs: Sequence[Owed]) -> list[tuple[Run, frozenset[str]]]:
    """Per owed period, oldest first: its completed window and the firms owing it. A
    period not completed yet (still open) is retried by the period's own run instead."""
    firms: dict[str, set[str]] = {}
    for pair in pairs:
        firms.setdefault(pair.period, set()).add(pair.firm)
    found: list[tuple[Run, frozenset[str]]] = []
    for period in sorted(firms):
        run = period_record.completed_run(state, period)
        if run is not None:
            found.append((run, frozenset(firms[period])))
    return found


def first_failed(
    state: State, wanted: Collection[tuple[str, str]], runs: Iterable[Run]
) -> dict[tuple[str, str], str]:
    """(firm, period) -> the Tallinn date (ISO) of the first earlier run that failed the
    firm in the period, for the ``wanted`` pairs that one did (``runs``: their periods).

    A pair is owed since the run that first failed it (docs/operations.md), which need not
    be the run that completes the period and records the pair: a period left open (a
    halt, or a home of a version that held every period until all its clients were done)
    is finished by a later night. Those earlier failures are in the run history; only the
    records from the day before the earliest import day on are read (by index), and only
    when there is a newly owed pair to date."""
    if not wanted:
        return {}
    days = [run.import_day for run in runs if run.period in {p for _, p in wanted}]
    if not days:
        return {}
    floor = min(days) - dt.timedelta(days=1)
    records = run_history.from_day(floor)
    if state.legacy_history and not run_history.migrated():  # a dry run before the upgrade
        records = [r for r in state.legacy_history if r.at >= floor.isoformat()] + records
    found: dict[tuple[str, str], str] = {}
    for record in records:
        if not record.is_monthly or record.is_rerun:
            continue
        today = record.details.get("today")
        day = today.isoformat() if isinstance(today, dt.date) else str(today or record.at)[:10]
        open_periods = [p for p in record.periods if p not in record.complete]
        default = open_periods[-1] if open_periods else (record.periods or (None,))[-1]
        for note in record.failures:
            key = (note.firm, note.period or default or "")
            if key in wanted and (key not in found or day < found[key]):
                found[key] = day
    return found


def after_run(
    before: Sequence[Owed],
    result: MonthlyResult,
    first: Mapping[tuple[str, str], str] | None = None,
) -> list[Owed]:
    """The owed pairs after ``result``: those before it, less the ones it did, plus each
    client that failed in a period attempted for every client (its reason refreshed), owed
    since ``first`` says (:func:`first_failed`) or since this run."""
    now: dict[tuple[str, str], Owed] = {(p.firm, p.period): p for p in before}
    today = result.today.isoformat()
    for period in result.periods:
        owing_counts = period.late or period.complete
        for outcome in period.outcomes:
            key = (outcome.link.trigon_id, period.run.period)
            if outcome.ok:
                now.pop(key, None)
            elif owing_counts:
                link = outcome.link
                first_day = min((first or {}).get(key, today), today)
                since = now[key].since if key in now else first_day
                now[key] = Owed(
                    link.trigon_id,
                    link.name,
                    link.registration_code or "",
                    period.run.period,
                    outcome.error or "failed",
                    since,
                )
    return sorted(now.values(), key=lambda p: (p.period, p.name.casefold(), p.firm))
