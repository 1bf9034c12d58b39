"""The ``status`` report: everything knowable from the home directory, without the network.

Monitoring calls ``status`` every few minutes and support staff read it first, so it must be
fast, must never send a request, and must still answer when config.toml or state.toml is
broken (that *is* the answer then). :func:`gather` reads config, state and the token store
(a keyring read is local) and :func:`build_status` turns those facts into a
:class:`StatusReport` whose ``checks`` are the first lines of ``doctor`` too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trigon_sync.dates import format_ee_day
from trigon_sync.errors import ExitCode, TrigonSyncError
from trigon_sync.health.checks import (
    TITLES,
    Check,
    Outcome,
    exit_code,
    failed,
    passed,
    skipped,
    warned,
)
from trigon_sync.health.local_checks import LocalFacts, local_checks
from trigon_sync.records.tables import RunRecord
from trigon_sync.schedule.rules import Run
from trigon_sync.schedule.run_text import run_json
from trigon_sync.settings import fields
from trigon_sync.settings.config import AnomalySettings, Config, missing_for_monthly
from trigon_sync.store import paths, state_view
from trigon_sync.store.config_file import load_config
from trigon_sync.store.secrets import (
    UKU_API_KEY,
    SecretStore,
    describe_store,
    has_credentials,
    open_store,
)
from trigon_sync.store.state import State, load_state
from trigon_sync.store.state_view import StateSummary
from trigon_sync.timeline.due import timeline_for

Flagged = tuple[dict[str, Any], ...]
"""The flagged clients as ``status --json`` lists them (report.Row.summary_json; kept as
store/status_flags.py says)."""

STATUS_KEYRING_TIMEOUT = 3.0
"""A locked keyring must not hang monitoring: give up on it quickly."""


@dataclass(frozen=True)
class StatusReport:
    """What ``status`` shows; ``to_json`` is the documented ``--json`` document."""

    facts: LocalFacts
    checks: tuple[Check, ...]
    flagged: Flagged = ()
    """Clients whose counts in the newest period written look wrong (billing/anomalies.py), as
    ``status --json`` lists them."""
    owed: tuple[OwedRow, ...] = ()
    """The (client, period) pairs linked clients owe (store/owed.py)."""

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.checks)

    @property
    def healthy(self) -> bool:
        return self.exit_code is ExitCode.OK

    @property
    def warnings(self) -> list[str]:
        """One line per check that did not pass cleanly (failures and warnings)."""
        return [
            f"{check.title}: {check.detail}"
            for check in self.checks
            if check.outcome in {Outcome.FAIL, Outcome.WARN}
        ]

    @property
    def mapped(self) -> dict[str, str | int]:
        config = self.facts.config
        return dict(config.fields) if config else {}

    @property
    def unmapped(self) -> list[str]:
        return [key for key in fields.KEYS if key not in self.mapped]

    def to_json(self) -> dict[str, Any]:
        facts = self.facts
        config, state = facts.config, facts.state
        return {
            "command": "status",
            "healthy": self.healthy,
            "exit_code": int(self.exit_code),
            "today": facts.today,
            "home": paths.home_dir(),
            "connections": _connections_json(facts),
            "config": _config_json(config, facts.config_error),
            "fields": {"mapped": self.mapped, "unmapped": self.unmapped},
            "clients": {
                "linked": state.linked if state else None,
                "ignored": [
                    {"trigon_id": firm_id, **entry} for firm_id, entry in state.ignored.items()
                ]
                if state
                else [],
            },
            "window": {
                "last_period_end": state.last_period_end if state else None,
                "last_period": state.last_period if state else None,
                "next_import": None if facts.next_run is None else run_json(facts.next_run),
                "overdue": [run_json(run) for run in facts.overdue],
                "run_in_progress": state.journal.in_progress if state else None,
            },
            "last_run": facts.last_run.to_document() if facts.last_run is not None else None,
            "checks": [check.to_json() for check in self.checks],
            "warnings": self.warnings,
            "anomalies": list(self.flagged),
            "owed": [dataclasses.asdict(row) for row in self.owed],
        }


def _connections_json(facts: LocalFacts) -> dict[str, Any]:
    config = facts.config
    store = facts.store
    return {
        "trigon": {
            "base_url": config.trigon.base_url if config else None,
            "email": config.trigon.email if config else None,
            "connected": facts.trigon_token,
        },
        "uku": {
            "base_url": config.uku.base_url if config else None,
            "company": config.uku.company if config else None,
            "connected": None
            if config is None or facts.uku_key is None
            else facts.uku_key and bool(config.uku.company),
        },
        "token_store": {
            "kind": store.kind if store else None,
            "location": store.location if store else None,
            "usable": store.usable if store else False,
            "problem": store.problem if store else _message(facts.store_error),
        },
    }


def _message(error: TrigonSyncError | None) -> str | None:
    return None if error is None else str(error)


def _config_json(config: Config | None, error: TrigonSyncError | None) -> dict[str, Any]:
    if config is None:
        problems: list[str | None] = [str(p) for p in getattr(error, "problems", ())] or [
            _message(error)
        ]
        return {"path": paths.config_file(), "exists": True, "valid": False, "problems": problems}
    summary = config.summary
    rule = summary.schedule
    return {
        "path": config.path,
        "exists": config.exists,
        "valid": True,
        "problems": [],
        "missing_for_monthly": missing_for_monthly(config),
        "task_title": summary.task_title,
        "topic": summary.topic,
        "auto_complete": summary.auto_complete,
        "first_import_date": summary.first_import_date,
        "schedule": None
        if rule is None
        else {"kind": rule.kind, "day": rule.day, "description": rule.describe()},
    }


def window_facts(
    config: Config | None, state: State | StateSummary | None, today: dt.date
) -> tuple[Run | None, tuple[Run, ...], TrigonSyncError | None]:
    """The next window to count, the runs whose import day has already passed, and why
    neither is known when the journal is corrupt (run-monthly stops on that too).

    Both come from the one timeline run-monthly acts on, so an unfinished period shows
    its own window and import day even after a schedule change.
    """
    if config is None or state is None:
        return None, (), None
    try:
        found = timeline_for(config, state, today)
    except TrigonSyncError as exc:
        return None, (), exc
    if found is None:
        return None, (), None
    return found.upcoming, found.overdue, None


def gather(
    today: dt.date,
    *,
    store: SecretStore | None = None,
    now: dt.datetime | None = None,
    whole_state: bool = False,
    thorough: bool = False,
) -> LocalFacts:
    """Read config, state, the records database and the token store; a broken file
    becomes its error, not a crash.

    What status shows of the state are its facts (store/state_view.py: state.toml and
    the records database's indexes); the state read for them stays in the facts
    (``whole_state``, kept for callers: it is always read now). The records database gets
    the check every open makes, or with ``thorough`` (``doctor``) every page
    (records_db.check): ``PRAGMA quick_check`` takes about 3 s on the five-year,
    5,000-client home's 300 MB, too much for a call monitoring makes every few minutes.
    """
    config: Config | None = None
    config_error: TrigonSyncError | None = None
    try:
        config = load_config()
    except TrigonSyncError as exc:
        config_error = exc
    state: State | None = None
    view: StateSummary | None = None
    state_error: TrigonSyncError | None = None
    try:
        state = load_state()
    except TrigonSyncError as exc:
        state_error = exc
    records, records_error = _records(thorough=thorough)
    if state is not None:
        try:
            view = state_view.of_state(state, records=records_error is None)
        except TrigonSyncError as exc:  # a damaged page of the run history
            records, records_error = None, exc
            view = state_view.of_state(state, records=False)
    description = None
    store_error: TrigonSyncError | None = None
    trigon_token: bool | None = None
    uku_key: bool | None = None
    if config is not None:
        try:
            # One store, one keyring probe, bounded by STATUS_KEYRING_TIMEOUT.
            configured = open_store(
                config.trigon.token_store, keyring_timeout=STATUS_KEYRING_TIMEOUT
            )
            description = describe_store(config.trigon.token_store, store=configured)
            if description.usable:
                store = store or configured
                trigon_token = has_credentials(store, config.trigon.auth)
                uku_key = store.get(UKU_API_KEY) is not None
        except TrigonSyncError as exc:
            store_error = exc
    upcoming, overdue, window_error = window_facts(config, view, today)
    return LocalFacts(
        config=config,
        config_error=config_error,
        state=view,
        state_error=state_error,
        store=description,
        store_error=store_error,
        trigon_token=trigon_token,
        uku_key=uku_key,
        today=today,
        next_run=upcoming,
        overdue=overdue,
        window_error=window_error,
        last_run=view.last_monthly_run if view is not None else None,
        now=now,
        whole_state=state,  # read anyway: owed_rows and doctor use it, never twice
        records=records,
        records_error=records_error,
        records_thorough=thorough,
    )


def _records(*, thorough: bool) -> tuple[Path | None, TrigonSyncError | None]:
    """The records database checked (records_db.check), or why it is refused."""
    from trigon_sync.store import records_db

    try:
        return records_db.check(thorough=thorough), None
    except TrigonSyncError as exc:
        return None, exc


def flagged_clients(config: Config | None) -> Flagged:
    """The newest period's clients whose counts carry an anomaly flag (local records
    only), as ``status --json`` lists them.

    Kept in the records database for the ledger and settings they were judged from
    (store/status_flags.py): while neither has changed, one row is read; otherwise they
    are judged again (:func:`judge_flagged`) and kept for the next call. Either way the
    answer is that of the ledger as it is now. A home without ledger rows is answered
    without writing anything."""
    from trigon_sync.store import ledger, status_flags

    settings = config.anomalies if config is not None else AnomalySettings()
    key = status_flags.key(settings)
    kept = status_flags.recall(key)
    if kept is not None:
        return kept
    generation = status_flags.generation()
    newest = ledger.newest_period()
    if newest is None:
        return ()  # nothing written yet
    flagged = judge_flagged(newest, settings)
    status_flags.keep(key, generation, flagged)
    return flagged


def judge_flagged(newest: str, settings: AnomalySettings) -> Flagged:
    """The flagged clients of period ``newest`` judged from the ledger: only the rows of
    that period and of the few before it its flags look back at (store/ledger.py), so the
    cost does not grow with years of history."""
    # The report module loads only here: once a count has been written.
    from trigon_sync.billing.report import build, history_start
    from trigon_sync.store import ledger

    book = ledger.load(since=history_start([newest], settings))
    return tuple(row.summary_json() for row in build(book, [newest], settings).flagged)


def anomaly_check(flagged: Flagged) -> Check:
    """Warn (never fail: the counts may be right) naming the flagged clients."""
    name, title = "counts.anomalies", TITLES["counts.anomalies"]
    if not flagged:
        return passed(name, title, "no client flagged")
    period = flagged[0]["period"]
    listed = "; ".join(
        f"{row['name']} ({row['registration_code']}): {row['flags'][0]['message']}"
        for row in flagged[:5]
    )
    more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
    return warned(
        name,
        title,
        f"{len(flagged)} client(s) flagged in {period}: {listed}{more}",
        f"check them before invoicing: `trigon-sync report --period {period}`",
    )


@dataclass(frozen=True)
class OwedRow:
    """One owed (client, period) as ``status`` shows it."""

    trigon_id: str
    name: str
    registration_code: str
    period: str
    reason: str
    owed_since: str
    owed_days: int


def owed_rows(today: dt.date, facts: LocalFacts) -> tuple[OwedRow, ...]:
    """The owed pairs of linked clients: one query on the records database (when there
    is one); state.toml is read for the names only when a pair is owed. StateError when
    the database cannot be read (:func:`status` makes it the records check's answer)."""
    from trigon_sync.store import owed

    if not owed.any_owed():
        return ()
    from trigon_sync.monthly import owing  # the one rule for which pairs a link still owes

    return tuple(
        OwedRow(o.firm, o.name, o.code, o.period, o.reason, o.since, o.age_days(today))
        for o in owing.stored(facts.whole_state or load_state())
    )


def owed_check(rows: tuple[OwedRow, ...]) -> Check:
    """Fail with the partial code while a linked client owes a period: each is a missing
    invoice line until its task is made, the client unlinked or the period waived."""
    name, title = "runs.owed", TITLES["runs.owed"]
    if not rows:
        return passed(name, title, "no owed (client, period)")
    listed = "; ".join(
        f"{r.name} ({r.registration_code or r.trigon_id}) {r.period}, owed since "
        f"{format_ee_day(r.owed_since)} ({r.owed_days} day{'' if r.owed_days == 1 else 's'}): "
        f"{r.reason}"
        for r in rows[:5]
    )
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return failed(
        name,
        title,
        f"{len(rows)} owed: {listed}{more}",
        "every run-monthly retries them first; fix the reason, or `trigon-sync waive CODE "
        "--period P --reason TEXT`; `trigon-sync explain CODE --period P` says more",
        ExitCode.PARTIAL,
    )


def build_status(
    facts: LocalFacts, flagged: Flagged = (), owed: tuple[OwedRow, ...] = ()
) -> StatusReport:
    """The report for these facts (pure). What only the records can tell (owed pairs,
    flags) is *skipped* while the database is refused, never "none": a lost database
    must not read as a home where nothing is owed."""
    if facts.records_error is not None:
        why = "not known: the records database is refused (see records.readable)"
        unknown = tuple(skipped(n, TITLES[n], why) for n in ("runs.owed", "counts.anomalies"))
        return StatusReport(facts=facts, checks=(*local_checks(facts), *unknown))
    checks = (*local_checks(facts), owed_check(owed), anomaly_check(flagged))
    return StatusReport(facts=facts, checks=checks, flagged=flagged, owed=owed)


def status(
    today: dt.date,
    now: dt.datetime | None = None,
    *,
    whole_state: bool = False,
    thorough: bool = False,
) -> StatusReport:
    """Gather and build in one call (what the CLI uses; ``thorough``: doctor's check of
    every page of the records database)."""
    from trigon_sync.store import records_migration

    # A home of an older version: its journal files and ledger.jsonl move into the
    # database first (under the state lock; busy while a run is moving them), so the
    # flags and owed periods are never read from an empty database.
    records_migration.ensure_migrated()
    facts = gather(today, now=now, whole_state=whole_state, thorough=thorough)
    if facts.records_error is not None:
        return build_status(facts)  # nothing more is read from a refused database
    try:
        return build_status(facts, flagged_clients(facts.config), owed_rows(today, facts))
    except TrigonSyncError as exc:  # a damaged page the open's check did not read
        return build_status(dataclasses.replace(facts, records=None, records_error=exc))


def history_page(limit: int, *, every_command: bool = False) -> tuple[int, list[RunRecord]]:
    """How many run records there are and the newest ``limit``, newest first: read by
    index from the records database, or with the state while an older home's history is
    still in state.toml."""
    from trigon_sync.store import run_history as stored
    from trigon_sync.store.state import load_state

    found = stored.newest(limit, monthly_only=not every_command)
    if found is not None:
        return found
    state = load_state()
    records = [e for e in state.history if every_command or e.is_monthly]
    return len(records), list(reversed(records))[: max(limit, 0)]


def run_history(state: State, *, limit: int, every_command: bool = False) -> list[RunRecord]:
    """The newest ``limit`` monthly-run records (or records of every command), newest first."""
    records = [e for e in state.history if every_command or e.is_monthly]
    return list(reversed(records))[: max(limit, 0)]
