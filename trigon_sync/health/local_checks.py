"""The checks ``status`` runs from the home directory alone: config, state, token store,
connections, the window and the last run (no network; see health/checks.py for the model).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trigon_sync.dates import format_ee, format_ee_time
from trigon_sync.errors import ExitCode, TrigonSyncError
from trigon_sync.health.checks import (
    Check,
    failed,
    from_error,
    named,
    passed,
    plural,
    skipped,
    warned,
)
from trigon_sync.http import clock_skew as skew
from trigon_sync.records.tables import RunRecord
from trigon_sync.schedule.rules import Run
from trigon_sync.schedule.run_text import next_import_sentence
from trigon_sync.settings import fields
from trigon_sync.settings.config import MONTHLY_REQUIREMENTS, Config, missing_for_monthly
from trigon_sync.store import paths
from trigon_sync.store.secrets import StoreDescription
from trigon_sync.store.state_view import StateSummary

if TYPE_CHECKING:
    from trigon_sync.store.state import State


@dataclass(frozen=True)
class LocalFacts:
    """What ``status`` knows without the network (an unreadable file is its error)."""

    config: Config | None
    config_error: TrigonSyncError | None
    state: StateSummary | None
    """What status reads of the state: its facts (store/state_view.py)."""
    state_error: TrigonSyncError | None
    store: StoreDescription | None
    store_error: TrigonSyncError | None
    trigon_token: bool | None
    """Whether a Trigon refresh token is stored (None: the store could not be read)."""
    uku_key: bool | None
    today: dt.date
    next_run: Run | None
    """The next window to count (None without a schedule / first import date)."""
    overdue: tuple[Run, ...] = ()
    """Scheduled runs whose import day is before today and that have not happened."""
    window_error: TrigonSyncError | None = None
    """Why the timeline is unknown although config and state read (a corrupt journal)."""
    last_run: RunRecord | None = None
    """The latest monthly-run record from the state history."""
    now: dt.datetime | None = None
    """The local clock when the facts were gathered (None: not checked)."""
    whole_state: State | None = None
    """The whole state, read only when asked for (doctor's live checks need every link)."""
    records: Path | None = None
    """The records database checked (None: the home has none yet, or it failed)."""
    records_error: TrigonSyncError | None = None
    """Why the records database is refused (missing though state.toml names it, corrupt,
    newer, locked): every command that reads or writes records stops on it."""
    records_thorough: bool = False
    """Whether every page was checked (``doctor``) or only what every open checks (``status``)."""


def local_checks(facts: LocalFacts) -> list[Check]:
    """The lines ``status`` shows, in cause-to-consequence order."""
    return [
        _config_valid(facts),
        _state_readable(facts),
        _records_readable(facts),
        _store_usable(facts),
        _trigon_connected(facts),
        _uku_connected(facts),
        _config_monthly(facts),
        _clients_linked(facts),
        _runs_current(facts),
        _runs_last(facts),
        _clock_recorded(facts),
    ]


def _config_valid(facts: LocalFacts) -> Check:
    name, title = named("config.valid")
    if facts.config_error is not None:
        return from_error(name, title, facts.config_error)
    config = facts.config
    assert config is not None  # noqa: S101 - one of the two is set
    if not config.exists:
        return failed(
            name,
            title,
            f"no config file at {config.path}",
            "run `trigon-sync connect`, or `trigon-sync config init` and fill it in",
            ExitCode.CONFIG,
        )
    return passed(name, title, str(config.path))


def _state_readable(facts: LocalFacts) -> Check:
    name, title = named("state.readable")
    if facts.state_error is not None:
        return from_error(name, title, facts.state_error)
    assert facts.state is not None  # noqa: S101
    where = paths.state_file()
    return passed(name, title, str(where) if where.exists() else "no state yet (nothing run)")


def _records_readable(facts: LocalFacts) -> Check:
    name, title = named("records.readable")
    if facts.records_error is not None:
        return from_error(name, title, facts.records_error)
    if facts.records is None:
        return passed(name, title, "none yet (the first command that writes makes it)")
    how = "every page checked" if facts.records_thorough else "doctor checks every page"
    return passed(name, title, f"{facts.records}; {how}")


def _store_usable(facts: LocalFacts) -> Check:
    name, title = named("secrets.store")
    if facts.store_error is not None:
        return from_error(name, title, facts.store_error)
    if facts.store is None:
        return skipped(name, title, "config.toml is not valid")
    if not facts.store.usable:
        fix = (
            "chmod 600 the token file"
            if facts.store.kind == "file"
            else "select a keyring backend (PYTHON_KEYRING_BACKEND) or use `--token-store file`"
        )
        return failed(name, title, str(facts.store), fix, ExitCode.CONFIG)
    return passed(name, title, str(facts.store))


def _trigon_connected(facts: LocalFacts) -> Check:
    name, title = named("trigon.connected")
    if facts.trigon_token is None or facts.config is None:
        return skipped(name, title, "the token store cannot be read")
    email = facts.config.trigon.email
    if not facts.trigon_token:
        return failed(
            name,
            title,
            "no Trigon connection is stored",
            "run `trigon-sync connect --email <Trigon user>`; if the login fails, try the same "
            "email and password in Trigon directly",
            ExitCode.AUTH,
        )
    return passed(name, title, f"as {email or '(email not recorded)'}")


def _uku_connected(facts: LocalFacts) -> Check:
    name, title = named("uku.connected")
    if facts.uku_key is None or facts.config is None:
        return skipped(name, title, "the token store cannot be read")
    company = facts.config.uku.company
    if not facts.uku_key or not company:
        missing = "API key" if not facts.uku_key else "company id"
        return failed(
            name,
            title,
            f"no Uku {missing} is stored",
            "run `trigon-sync connect-uku --company <company uuid>` with an API key of a "
            "Company Admin or Owner",
            ExitCode.AUTH,
        )
    return passed(name, title, f"company {company}")


def _config_monthly(facts: LocalFacts) -> Check:
    name, title = named("config.monthly")
    if facts.config is None:
        return skipped(name, title, "config.toml is not valid")
    missing = missing_for_monthly(facts.config)
    if missing:
        listed = "; ".join(f"{key} ({MONTHLY_REQUIREMENTS[key]})" for key in missing)
        return failed(
            name,
            title,
            f"not set: {listed}",
            "set them in config.toml (see config.example.toml) or with `trigon-sync map-fields`",
            ExitCode.CONFIG,
        )
    summary = facts.config.summary
    assert summary.schedule is not None  # noqa: S101 - missing_for_monthly checked it
    return passed(
        name,
        title,
        f"{len(facts.config.fields)} of {len(fields.KEYS)} fields mapped; "
        f"import on the {summary.schedule.describe()}",
    )


def _clients_linked(facts: LocalFacts) -> Check:
    name, title = named("clients.linked")
    if facts.state is None:
        return skipped(name, title, "state.toml is not readable")
    count = facts.state.linked
    if count == 0:
        return failed(
            name,
            title,
            "no Trigon firm is linked to an Uku client, so no task can be created",
            "run `trigon-sync import-clients`, review it, then `trigon-sync confirm`",
            ExitCode.CONFIG,
        )
    return passed(name, title, f"{plural(count, 'client')} linked")


def _runs_current(facts: LocalFacts) -> Check:
    name, title = named("runs.current")
    if facts.window_error is not None:
        return from_error(name, title, facts.window_error)
    if facts.state is None or facts.next_run is None:
        return skipped(name, title, "no readable state or no schedule")
    if facts.overdue:
        overdue = facts.overdue
        periods = ", ".join(
            f"{run.period} (import day {format_ee(run.import_day)})" for run in overdue[:3]
        )
        if len(overdue) > 3:
            periods += f" … {overdue[-1].period}"
        return failed(
            name,
            title,
            f"{len(overdue)} period(s) not counted yet: {periods}",
            "run `trigon-sync run-monthly` (it catches up every missed period in order) and "
            "check that the cron job runs every night",
            ExitCode.PARTIAL,
        )
    run = facts.next_run
    detail = next_import_sentence(run)
    if facts.state.journal.in_progress:  # a period was opened and not finished
        return warned(
            name,
            title,
            f"a monthly run did not finish; {detail}",
            "run `trigon-sync run-monthly` to finish it (done clients are skipped)",
        )
    return passed(name, title, detail)


def _runs_last(facts: LocalFacts) -> Check:
    name, title = named("runs.last")
    if facts.state is None:
        return skipped(name, title, "state.toml is not readable")
    if facts.records_error is not None:  # the run history lives in the records database
        return skipped(name, title, "not known: the records database is refused")
    record = facts.last_run
    if record is None:
        return passed(name, title, "no monthly run yet")
    when = format_ee_time(record.at) if record.at else "?"
    failures = record.failures
    result = record.result or "?"
    if failures or result != "ok":
        count = record.details.get("clients_failed")
        total = count if isinstance(count, int) and count >= len(failures) else len(failures)
        listed = "; ".join(  # one client may fail in an owed and a due period
            f"{f.who}{f' {f.period}' if f.period else ''}: {f.reason}" for f in failures[:5]
        )
        more = f" and {total - min(5, len(failures))} more" if total > min(5, len(failures)) else ""
        stop = record.details.get("error")
        error = f": {stop}" if stop else ""
        return failed(
            name,
            title,
            f"run at {when} ended {result}{error}"
            + (f"; {plural(total, 'client')} failed: {listed}{more}" if failures else ""),
            "fix the reasons shown, then run `trigon-sync run-monthly` again (it redoes only "
            "what is missing); `trigon-sync history` shows every run",
            ExitCode.PARTIAL,
        )
    return passed(name, title, f"run at {when}: {result}")


def _clock_recorded(facts: LocalFacts) -> Check:
    name, title = named("clock.recorded")
    if facts.now is None or facts.state is None:
        return skipped(name, title, "no clock reading or no state")
    problem = skew.behind_last_run(facts.now, facts.state.last_recorded_at)
    if problem is not None:
        return failed(name, title, problem.message, problem.hint, problem.exit_code)
    return passed(
        name,
        title,
        f"{format_ee_time(facts.now.isoformat())}; `trigon-sync doctor` compares it with "
        "Trigon and Uku",
    )
