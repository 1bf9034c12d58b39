"""The state summary: the few facts the nightly no-op and ``status`` need, beside state.toml.

Cron starts ``run-monthly --quiet`` every night (nothing is due on most of them) and
monitoring calls ``status --json`` every few minutes. Both need a handful of facts from
state.toml (where counting stands, whether a period is open, how many clients are
linked, the newest run records), but state.toml grows with every client and every month:
800 KB at 5,000 clients and five years, 0.12 s to parse. So every save of state.toml
(``StateSession.save``, the one writer) also writes ``state.summary.toml`` with exactly
those facts, and those two calls read only that.

The summary is derived, never the truth. It carries the fingerprint of the state.toml it
was made from (fingerprint.py: device, inode, size, mtime and ctime in nanoseconds, read
right after the replace), and :func:`read_current` returns it only while state.toml
still has that fingerprint. Anything else makes it None and the caller reads state.toml
itself: state.toml edited by hand or restored from a backup, saved by an older
trigon-sync that does not know this file, a crash between the two writes, a summary
truncated or of another format. No file can be changed without its ctime changing (it
cannot be set from user space), so a matching fingerprint means state.toml is still the
very file that was summarised.

Crash order: state.toml is replaced and fsync'd first, then the summary is replaced. A
crash in between leaves the previous summary, whose fingerprint names the previous
state.toml: stale, hence unused. Reading needs no lock for the same reason.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trigon_sync.dates import toml_date
from trigon_sync.records.tables import PERIOD, Periods, RunRecord, last_recorded
from trigon_sync.store import fingerprint, paths

if TYPE_CHECKING:
    from trigon_sync.store.state import State

FORMAT = 1
"""The layout of the summary file; a summary of another format is not used."""
HEADER = (
    "# Written by trigon-sync with every save of state.toml: a summary of it for the\n"
    "# nightly run and `status`. Do not edit it; deleting it is harmless.\n"
)


def summary_file(state_file: Path) -> Path:
    """Where the summary of ``state_file`` lives (beside it)."""
    return state_file.with_name(paths.STATE_SUMMARY_NAME)


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


def of_state(state: State) -> StateSummary:
    """The summary of a state (as state.toml holds it)."""
    return StateSummary(
        schema_version=state.schema_version,
        last_period_end=state.last_period_end,
        last_period=state.last_period,
        journal=state.journal.open_part(),
        linked=len(state.links),
        ignored=state.ignored,
        last_recorded_at=last_recorded(_newest_records(state)),
        last_monthly_run=_last_monthly(state),
    )


def _newest_records(state: State) -> list[RunRecord]:
    """Records carrying every ``at`` of the history: the database's as bare times (one
    column, no record read), state.toml's old ones while not moved in, the session's."""
    from trigon_sync.store import run_history

    stored = [RunRecord(at, "", "") for at in run_history.times()]
    legacy = [] if not state.legacy_history or run_history.migrated() else state.legacy_history
    return [*legacy, *stored, *state.new_history]


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


def write(summary: StateSummary, state_file: Path) -> None:
    """Write the summary of ``state_file``, which has just been replaced (atomically)."""
    # Only the writing commands get here: the nightly no-op never imports these.
    import tomli_w

    from trigon_sync.store import atomic

    doc: dict[str, Any] = {
        "format": FORMAT,
        "state": fingerprint.of(state_file),
        "schema_version": summary.schema_version,
        "linked": summary.linked,
        "journal": summary.journal.to_document(),
        "ignored": dict(summary.ignored),
    }
    optional = {
        "last_period_end": summary.last_period_end,
        "last_period": summary.last_period,
        "last_recorded_at": summary.last_recorded_at,
        "last_monthly_run": None
        if summary.last_monthly_run is None
        else summary.last_monthly_run.to_document(),
    }
    doc.update({key: value for key, value in optional.items() if value is not None})
    atomic.write_private(summary_file(state_file), HEADER + tomli_w.dumps(doc))


def read_current(state_file: Path, schema_version: int) -> StateSummary | None:
    """The summary of ``state_file`` as it is now, or None (missing, stale, foreign, bad).

    The summary is read before the state file is looked at: a save in between makes the
    fingerprints differ, never a new fingerprint pass with an old summary.
    """
    try:
        doc = tomllib.loads(summary_file(state_file).read_text(encoding="utf-8"))
        current = fingerprint.of(state_file)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if doc.get("format") != FORMAT or doc.get("state") != current:
        return None
    if doc.get("schema_version") != schema_version:
        return None
    try:
        return _from_document(doc, schema_version)
    except TypeError:
        return None


def _from_document(doc: Mapping[str, Any], schema_version: int) -> StateSummary:
    last_period_end = doc.get("last_period_end")
    if last_period_end is not None:
        last_period_end = toml_date(last_period_end, "last_period_end")
    last_recorded_at = doc.get("last_recorded_at")
    if last_recorded_at is not None and (
        not isinstance(last_recorded_at, dt.datetime) or last_recorded_at.tzinfo is None
    ):
        raise TypeError("last_recorded_at")
    linked = doc.get("linked")
    last_run = doc.get("last_monthly_run")
    ignored = doc.get("ignored")
    if (
        not isinstance(linked, int)
        or isinstance(linked, bool)
        or linked < 0
        or not isinstance(doc.get("last_period", ""), str)
        or not isinstance(doc.get("journal"), dict)
        or not isinstance(ignored, dict)
        or not all(isinstance(entry, dict) for entry in ignored.values())
        or not isinstance(last_run, dict | None)
    ):
        raise TypeError("summary")
    # A summary is only ever a copy: anything state.toml would refuse is read there, so
    # the error (and its advice) is about state.toml's own contents.
    last_period = doc.get("last_period")
    journal = Periods.from_document(doc["journal"])
    if (last_period is not None and not PERIOD.match(last_period)) or journal.unreadable_open:
        raise TypeError("summary")
    return StateSummary(
        schema_version=schema_version,
        last_period_end=last_period_end,
        last_period=last_period,
        journal=journal,
        linked=linked,
        ignored=ignored,
        last_recorded_at=last_recorded_at,
        last_monthly_run=None if last_run is None else RunRecord.from_document(last_run),
    )
