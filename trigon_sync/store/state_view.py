"""What the nightly no-op and ``status`` read of the state: a few facts, none of them grown.

Cron starts ``run-monthly --quiet`` every night (nothing is due on most of them) and
monitoring calls ``status --json`` every few minutes. Both need a handful of facts: where
counting stands, whether a period is open, how many clients are linked, the ignored
firms (state.toml, which no longer grows with nights: the run history is in the records
database), the newest run-monthly record and the latest record time (two queries on the
database's indexes, whatever the years of history). No cache file: every fact is read
from where it is kept, so nothing can go stale beside a hand-edited or restored file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trigon_sync.records.tables import Periods, RunRecord, last_recorded

if TYPE_CHECKING:
    from trigon_sync.store.state import State


@dataclass(frozen=True)
class StateSummary:
    """What ``run-monthly``'s checks before any connection and ``status`` read of the state."""

    schema_version: int
    last_period_end: dt.date | None = None
    last_period: str | None = None
    journal: Periods = field(default_factory=Periods)
    """The open period of ``state.journal`` (no completed ones): period_record reads it
    (and reports it corrupt) as it does the whole journal."""
    linked: int = 0
    """How many Trigon firms are linked to Uku clients."""
    ignored: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``state.ignored`` as stored (the firms the admin chose not to import)."""
    last_recorded_at: dt.datetime | None = None
    """The latest ``at`` of any run record (last_recorded): the clock guard's mark."""
    last_monthly_run: RunRecord | None = None
    """The newest run-monthly record."""


def of_state(state: State, *, records: bool = True) -> StateSummary:
    """The facts of a state, with the run history's from the database (``records`` False:
    without them, for ``status`` while the database is what failed)."""
    summary = StateSummary(
        schema_version=state.schema_version,
        last_period_end=state.last_period_end,
        last_period=state.last_period,
        journal=state.journal.open_part(),
        linked=len(state.links),
        ignored=state.ignored,
    )
    if not records:
        return summary
    return dataclasses.replace(
        summary,
        last_recorded_at=_last_recorded_at(state),
        last_monthly_run=_last_monthly(state),
    )


def _last_recorded_at(state: State) -> dt.datetime | None:
    """The latest ``at`` of the history: the database's (by index), state.toml's old
    records while not moved in, the session's unsaved ones."""
    from trigon_sync.store import run_history

    legacy = [] if not state.legacy_history or run_history.migrated() else state.legacy_history
    found = [last_recorded([*legacy, *state.new_history]), run_history.latest_at()]
    return max((at for at in found if at is not None), default=None)


def _last_monthly(state: State) -> RunRecord | None:
    """The newest run-monthly record: the session's, else the database's newest (by
    index), else state.toml's old ones while not moved in."""
    from trigon_sync.store import run_history

    found = next((r for r in reversed(state.new_history) if r.is_monthly), None)
    if found is not None:
        return found
    stored = run_history.last_monthly()
    if stored is not None or run_history.migrated():
        return stored
    return next((r for r in reversed(state.legacy_history) if r.is_monthly), None)
