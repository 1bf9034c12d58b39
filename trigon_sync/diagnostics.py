"""The checks behind ``status`` and ``doctor``: one :class:`Check` per thing that can be wrong.

Support staff walk the product's troubleshooting list by hand; here every item of it is a
check with a stable name, a one-line detail and, when it fails, the fix (see
:data:`TROUBLESHOOTING` for the mapping). Checks never raise: a failure becomes a failed
check, and a check that cannot be judged because an earlier one failed is *skipped* with
that reason, so one broken connection does not hide the other problems.

Three kinds of check, all returning :class:`Check`:

* local checks (config, state, secret store, window, last run): no network, used by
  ``status`` and as the first lines of ``doctor``;
* live checks: take an already built Trigon / Uku client (or the error building it
  raised), so tests inject sandbox transports and nothing here constructs a connection;
* environment checks (keyring from cron, file modes, time zone, register file age): take
  what they inspect as arguments, with small default probes for the CLI.

The exit code of a list of checks is the code of the first failure: checks are ordered
from cause to consequence (configuration, then connections, then what depends on them).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from trigon_sync import fields, naming, paths, skew
from trigon_sync.clock import TALLINN
from trigon_sync.config import MONTHLY_REQUIREMENTS, Config, missing_for_monthly
from trigon_sync.dates import format_ee
from trigon_sync.errors import ExitCode, TrigonSyncError
from trigon_sync.schedule import Run
from trigon_sync.secrets import StoreDescription
from trigon_sync.state import State

T = TypeVar("T")

REGISTER_MAX_AGE_DAYS = 35
"""The register is published daily; a copy older than about a month misses new companies."""
TALLINN_ZONE = "Europe/Tallinn"
PROBE_TIMEOUT = 15.0


class Outcome(enum.StrEnum):
    """How a check ended; only ``fail`` changes the exit code."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


SYMBOLS: Mapping[Outcome, str] = {
    Outcome.OK: "✓",
    Outcome.WARN: "!",
    Outcome.FAIL: "✗",
    Outcome.SKIP: "–",
}


@dataclass(frozen=True)
class Check:
    """One line of ``status``/``doctor``: what was checked, what was found, how to fix it."""

    name: str
    """Stable id (``trigon.refresh``) for scripts and tests."""
    title: str
    """What is checked, worded as the healthy state ("Trigon login refresh works")."""
    outcome: Outcome
    detail: str
    fix: str | None = None
    code: ExitCode = ExitCode.OK
    """The exit code this failure stands for (OK unless ``outcome`` is FAIL)."""

    @property
    def ok(self) -> bool:
        """True unless the check failed (warnings and skips do not fail a run)."""
        return self.outcome is not Outcome.FAIL

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": str(self.outcome),
            "ok": self.ok,
            "detail": self.detail,
            "fix": self.fix,
            "exit_code": int(self.code),
        }


def passed(name: str, title: str, detail: str) -> Check:
    return Check(name, title, Outcome.OK, detail)


def warned(name: str, title: str, detail: str, fix: str | None) -> Check:
    return Check(name, title, Outcome.WARN, detail, fix)


def failed(name: str, title: str, detail: str, fix: str | None, code: ExitCode) -> Check:
    return Check(name, title, Outcome.FAIL, detail, fix, code)


def skipped(name: str, title: str, reason: str) -> Check:
    return Check(name, title, Outcome.SKIP, f"skipped: {reason}")


def from_error(name: str, title: str, exc: TrigonSyncError) -> Check:
    """A failed check carrying an error's message, hint and exit code."""
    return failed(name, title, exc.message, exc.hint, exc.exit_code)


def exit_code(checks: Iterable[Check]) -> ExitCode:
    """The code of the first failed check (cause before consequence), or OK."""
    for check in checks:
        if check.outcome is Outcome.FAIL:
            return check.code if check.code is not ExitCode.OK else ExitCode.UNEXPECTED
    return ExitCode.OK


# Titles double as the doctor's line text; names are the stable ids.
TITLES: dict[str, str] = {
    "config.valid": "config.toml is valid",
    "state.readable": "state.toml is readable",
    "secrets.store": "Token store is usable",
    "trigon.connected": "Trigon is connected",
    "uku.connected": "Uku is connected",
    "config.monthly": "Task title, topic, import schedule and field mapping are set",
    "clients.linked": "Clients are linked",
    "runs.current": "Every due period has been counted",
    "runs.last": "The last monthly run succeeded for every client",
    "clock.recorded": "The local clock is not behind the last recorded run",
    "counts.anomalies": "No count of the newest period looks wrong",
    "trigon.refresh": "Trigon login refresh works",
    "trigon.firms": "Every linked firm is still listed and viewable in Trigon",
    "trigon.unimported": "Every Trigon firm is imported",
    "uku.key": "Uku API key works",
    "uku.topic": "The summary topic exists in Uku",
    "uku.fields": "Every mapped custom field exists in Uku as a number field",
    "uku.clients": "Every linked Uku client still exists",
    "clock.services": "The local clock agrees with Trigon's and Uku's",
    "keyring.cron": "Token store works without a desktop session (cron)",
    "files.permissions": "Home directory is 0700 and its files 0600",
    "clock.timezone": "Cron runs on Tallinn dates",
    "register.file": "Business Register file is recent",
}

TROUBLESHOOTING: dict[str, tuple[str, ...]] = {
    "Connection fails: the Trigon user's role lacks List or View": (
        "trigon.firms",
        "trigon.unimported",
    ),
    "Connection fails: typo in the email or password": ("trigon.connected", "trigon.refresh"),
    "Connection fails: the Trigon user is inactive or removed": ("trigon.refresh",),
    "Some firms aren't visible after import": ("trigon.firms",),
    "Tasks aren't created: the integration is not enabled": (
        "trigon.connected",
        "uku.connected",
        "uku.key",
    ),
    "Tasks aren't created: task title / topic / data import not filled in": (
        "config.monthly",
        "uku.topic",
        "uku.fields",
    ),
    "Tasks aren't created: a client's integration is not Trigon": (
        "clients.linked",
        "uku.clients",
    ),
    "Tasks aren't created: no client import since the user got the firms": ("trigon.unimported",),
    "Counts look stale or wrong": ("runs.current", "runs.last", "counts.anomalies"),
}
"""Each item of the product's troubleshooting section -> the checks that answer it."""


def _check(name: str) -> tuple[str, str]:
    return name, TITLES[name]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


# --------------------------------------------------------------------------- local checks


@dataclass(frozen=True)
class LocalFacts:
    """What ``status`` knows without the network (an unreadable file is its error)."""

    config: Config | None
    config_error: TrigonSyncError | None
    state: State | None
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
    last_run: Mapping[str, Any] | None = None
    """The latest monthly-run record from the state history (see :func:`run_failures`)."""
    now: dt.datetime | None = None
    """The local clock when the facts were gathered (None: not checked)."""


def local_checks(facts: LocalFacts) -> list[Check]:
    """The lines ``status`` shows, in cause-to-consequence order."""
    return [
        _config_valid(facts),
        _state_readable(facts),
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
    name, title = _check("config.valid")
    if facts.config_error is not None:
        return from_error(name, title, facts.config_error)
    config = facts.config
    assert config is not None  # noqa: S101 - one of the two is set
    if not config.exists:
        return failed(
            name,
            title,
            f"no config file at {config.path}",
            "run `trigon-sync connect`, or copy config.example.toml there and fill it in",
            ExitCode.CONFIG,
        )
    return passed(name, title, str(config.path))


def _state_readable(facts: LocalFacts) -> Check:
    name, title = _check("state.readable")
    if facts.state_error is not None:
        return from_error(name, title, facts.state_error)
    assert facts.state is not None  # noqa: S101
    where = paths.state_file()
    return passed(name, title, str(where) if where.exists() else "no state yet (nothing run)")


def _store_usable(facts: LocalFacts) -> Check:
    name, title = _check("secrets.store")
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
    name, title = _check("trigon.connected")
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
    name, title = _check("uku.connected")
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
    name, title = _check("config.monthly")
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
    name, title = _check("clients.linked")
    if facts.state is None:
        return skipped(name, title, "state.toml is not readable")
    count = len(facts.state.links)
    if count == 0:
        return failed(
            name,
            title,
            "no Trigon firm is linked to an Uku client, so no task can be created",
            "run `trigon-sync import-clients`, review it, then `trigon-sync confirm`",
            ExitCode.CONFIG,
        )
    return passed(name, title, f"{_plural(count, 'client')} linked")


def _runs_current(facts: LocalFacts) -> Check:
    name, title = _check("runs.current")
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
    detail = (
        f"next import {format_ee(run.import_day)} will count "
        f"{format_ee(run.window_start)}–{format_ee(run.window_end)} (period {run.period})"
    )
    if facts.state.journal.get("period"):  # period_record.run_in_progress: a period was opened
        return warned(
            name,
            title,
            f"a monthly run did not finish; {detail}",
            "run `trigon-sync run-monthly` to finish it (done clients are skipped)",
        )
    return passed(name, title, detail)


def run_failures(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(client, reason) pairs from a run record's ``failures`` list (see monthly.py)."""
    found: list[tuple[str, str]] = []
    for item in record.get("failures") or ():
        if isinstance(item, Mapping):
            who = item.get("name") or item.get("registration_code") or item.get("trigon_id")
            found.append((str(who or "?"), str(item.get("reason") or "no reason recorded")))
        else:
            found.append((str(item), "no reason recorded"))
    return found


def _runs_last(facts: LocalFacts) -> Check:
    name, title = _check("runs.last")
    record = facts.last_run
    if record is None:
        return passed(name, title, "no monthly run yet")
    when = str(record.get("at", "?"))
    failures = run_failures(record)
    result = str(record.get("result", "?"))
    if failures or result != "ok":
        count = record.get("clients_failed")
        total = count if isinstance(count, int) and count >= len(failures) else len(failures)
        listed = "; ".join(f"{who}: {why}" for who, why in failures[:5])
        more = f" and {total - min(5, len(failures))} more" if total > min(5, len(failures)) else ""
        error = f": {record['error']}" if record.get("error") else ""
        return failed(
            name,
            title,
            f"run at {when} ended {result}{error}"
            + (f"; {_plural(total, 'client')} failed: {listed}{more}" if failures else ""),
            "fix the reasons shown, then run `trigon-sync run-monthly` again (it redoes only "
            "what is missing); `trigon-sync history` shows every run",
            ExitCode.PARTIAL,
        )
    return passed(name, title, f"run at {when}: {result}")


def _clock_recorded(facts: LocalFacts) -> Check:
    name, title = _check("clock.recorded")
    if facts.now is None or facts.state is None:
        return skipped(name, title, "no clock reading or no state")
    problem = skew.behind_last_run(facts.now, skew.last_recorded(facts.state.history))
    if problem is not None:
        return failed(name, title, problem.message, problem.hint, problem.exit_code)
    return passed(
        name,
        title,
        f"{facts.now.isoformat(timespec='minutes')}; `trigon-sync doctor` compares it with "
        "Trigon and Uku",
    )


# --------------------------------------------------------------------------- live checks


def _attempt(name: str, title: str, call: Callable[[], T]) -> T | Check:
    """Run one remote call; any failure becomes a failed check instead of an exception."""
    try:
        return call()
    except TrigonSyncError as exc:
        return from_error(name, title, exc)
    except Exception as exc:  # one broken check must not stop the others
        return failed(
            name,
            title,
            f"unexpected error: {type(exc).__name__}: {exc}"[:300],
            "run `trigon-sync --verbose doctor` and report it",
            ExitCode.UNEXPECTED,
        )


def trigon_checks(state: State, trigon: Any) -> list[Check]:
    """Refresh, linked firms' reach, unimported firms.

    ``trigon`` is a :class:`~trigon_sync.trigon.TrigonClient`, the error building it raised,
    or a reason (text) to skip every Trigon check.
    """
    refresh_name, refresh_title = _check("trigon.refresh")
    firms_name, firms_title = _check("trigon.firms")
    new_name, new_title = _check("trigon.unimported")
    if isinstance(trigon, str):
        return [
            skipped(refresh_name, refresh_title, trigon),
            skipped(firms_name, firms_title, trigon),
            skipped(new_name, new_title, trigon),
        ]
    if isinstance(trigon, TrigonSyncError):
        first = from_error(refresh_name, refresh_title, trigon)
        reason = "Trigon is not connected"
        return [
            first,
            skipped(firms_name, firms_title, reason),
            skipped(new_name, new_title, reason),
        ]
    user = _attempt(refresh_name, refresh_title, trigon.me)
    if isinstance(user, Check):
        reason = "the Trigon login refresh failed"
        return [
            user,
            skipped(firms_name, firms_title, reason),
            skipped(new_name, new_title, reason),
        ]
    who = f"{user.name} <{user.email}>" if user.name else user.email
    refresh = passed(refresh_name, refresh_title, f"{trigon.auth_proof}; signed in as {who}")
    listed = _attempt(firms_name, firms_title, trigon.list_firms)
    if isinstance(listed, Check):
        return [refresh, listed, skipped(new_name, new_title, "the firm list could not be read")]
    by_id = {firm.id: firm for firm in listed}
    return [refresh, _linked_firms(state, by_id), _unimported(state, listed)]


def _linked_firms(state: State, by_id: Mapping[str, Any]) -> Check:
    name, title = _check("trigon.firms")
    if not state.links:
        return passed(name, title, "no linked firms to check")
    problems: list[str] = []
    for link in sorted(state.links.values(), key=lambda link: link.name):
        firm = by_id.get(link.trigon_id)
        label = f"{link.name} ({link.registration_code or link.trigon_id})"
        if firm is None:
            problems.append(f"{label}: not listed")
        elif not firm.viewable:
            problems.append(f"{label}: listed without View")
    if problems:
        return failed(
            name,
            title,
            f"{len(problems)} of {len(state.links)} linked firms cannot be read: "
            + _names(problems),
            "add List and View for these firms to the Trigon user's role in Trigon, then run "
            "`trigon-sync run-monthly` again (it redoes only the clients that failed)",
            ExitCode.PERMISSION,
        )
    return passed(name, title, f"all {len(state.links)} listed and viewable")


def _unimported(state: State, firms: Sequence[Any]) -> Check:
    name, title = _check("trigon.unimported")
    linked = {link.trigon_id for link in state.links.values()}
    new = [firm for firm in firms if firm.id not in linked]
    if not firms:
        return failed(
            name,
            title,
            "the Trigon user can list no firms",
            "give the user's role List and View for the firms in Trigon",
            ExitCode.PERMISSION,
        )
    if new:
        hidden = sum(1 for firm in new if not firm.viewable)
        note = f" ({hidden} of them without View)" if hidden else ""
        return failed(
            name,
            title,
            f"{_plural(len(new), 'Trigon firm')} not imported{note}: "
            + _names([f"{firm.name} ({firm.id})" for firm in new]),
            "run `trigon-sync import-clients` and `trigon-sync confirm` before the next import day"
            + ("; firms without View also need List and View in Trigon" if hidden else ""),
            ExitCode.CONFIG,
        )
    return passed(name, title, f"all {len(firms)} listed firms are linked")


def clock_check(clients: Mapping[str, Any]) -> Check:
    """The skew each service's last answer showed (live: after the Trigon and Uku checks).

    ``clients`` maps a service name to its client, or to anything else when it could not
    be built (then that service is left out).
    """
    name, title = _check("clock.services")
    skews = []
    for service, client in clients.items():
        stats = getattr(client, "stats", None)
        sample = stats.server_clock.sample if stats is not None else None
        if sample is not None:
            skews.append(skew.Skew(service, sample))
    if not skews:
        return skipped(name, title, "no answer with a Date header from Trigon or Uku")
    problem = skew.problem(skews)
    detail = "; ".join(s.describe() for s in skews)
    if problem is not None:
        return failed(name, title, detail, problem.hint, problem.exit_code)
    return passed(name, title, f"{detail} (allowed: {skew.span(skew.MAX_SKEW)})")


def uku_checks(config: Config, state: State, uku: Any) -> list[Check]:
    """Key, topic, mapped fields, linked clients.

    ``uku`` is a :class:`~trigon_sync.uku.UkuClient`, the error building it raised, or a
    reason (text) to skip every Uku check.
    """
    key_name, key_title = _check("uku.key")
    dependents = [_check(n) for n in ("uku.topic", "uku.fields", "uku.clients")]
    if isinstance(uku, str):
        return [skipped(key_name, key_title, uku), *(skipped(n, t, uku) for n, t in dependents)]
    if isinstance(uku, TrigonSyncError):
        return [
            from_error(key_name, key_title, uku),
            *(skipped(n, t, "Uku is not connected") for n, t in dependents),
        ]
    members = _attempt(key_name, key_title, uku.check)
    if isinstance(members, Check):
        return [members, *(skipped(n, t, "the Uku API key does not work") for n, t in dependents)]
    return [
        passed(key_name, key_title, f"company {uku.company}; {_plural(members, 'member')}"),
        _topic(config, uku),
        _custom_fields(config, uku),
        _uku_clients(state, uku),
    ]


def _mapping_problems(config: Config, topics: Any, defined: Any) -> list[Any]:
    """The problems run-monthly would stop on, from its own resolver (one source of truth)."""
    from trigon_sync.errors import ConfigError
    from trigon_sync.monthly_plan import resolve_targets

    try:
        resolve_targets(config, topics, defined)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def _topic(config: Config, uku: Any) -> Check:
    name, title = _check("uku.topic")
    wanted = config.summary.topic
    if wanted is None:
        return skipped(name, title, "summary.topic is not set")
    topics = _attempt(name, title, uku.list_topics)
    if isinstance(topics, Check):
        return topics
    problems = [p for p in _mapping_problems(config, topics, []) if p.key == "summary.topic"]
    if problems:
        return failed(
            name,
            title,
            problems[0].message,
            "create the topic in Uku or set summary.topic to an existing one",
            ExitCode.CONFIG,
        )
    match = naming.find(wanted, topics).item
    assert match is not None  # noqa: S101 - resolve_targets found exactly one
    return passed(name, title, f"{match.name} (id {match.id})")


def _custom_fields(config: Config, uku: Any) -> Check:
    name, title = _check("uku.fields")
    if not config.fields:
        return skipped(name, title, "no field is mapped in [fields]")
    defined = _attempt(name, title, lambda: uku.list_custom_fields("task"))
    if isinstance(defined, Check):
        return defined
    problems = [p for p in _mapping_problems(config, [], defined) if p.key.startswith("fields.")]
    if problems:
        return failed(
            name,
            title,
            "; ".join(f"{p.key.removeprefix('fields.')}: {p.message}" for p in problems),
            "create number custom fields for tasks in Uku with these names, or map the counts "
            "to existing number fields (`trigon-sync map-fields`)",
            ExitCode.CONFIG,
        )
    return passed(name, title, f"all {len(config.fields)} mapped fields are number fields")


def _uku_clients(state: State, uku: Any) -> Check:
    name, title = _check("uku.clients")
    if not state.links:
        return skipped(name, title, "no linked clients")
    clients = _attempt(name, title, uku.list_clients)
    if isinstance(clients, Check):
        return clients
    existing = {client.id for client in clients}
    gone = [
        f"{link.name} (Uku client {link.uku_client_id})"
        for link in state.links.values()
        if link.uku_client_id not in existing
    ]
    if gone:
        return failed(
            name,
            title,
            f"{_plural(len(gone), 'linked client')} no longer in Uku: " + _names(sorted(gone)),
            "run `trigon-sync import-clients` to create or link them again",
            ExitCode.CONFIG,
        )
    return passed(name, title, f"all {len(state.links)} found in Uku")


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class KeyringProbe:
    """What a keyring access from a cron-like environment found (never a secret value)."""

    ok: bool
    detail: str
    token: bool | None = None
    """Whether the Trigon token was readable there (None: not known)."""


KeyringProber = Callable[[], KeyringProbe]

_PROBE_SCRIPT = """
import json
from trigon_sync.secrets import KeyringStore, TRIGON_API_KEY, TRIGON_REFRESH_TOKEN
from trigon_sync.errors import TrigonSyncError
try:
    store = KeyringStore(timeout=10.0)
    backend = store.check()
    present = any(store.get(n) is not None for n in (TRIGON_REFRESH_TOKEN, TRIGON_API_KEY))
    print(json.dumps({"ok": True, "backend": backend, "token": present}))
except TrigonSyncError as exc:
    print(json.dumps({"ok": False, "error": exc.message}))
"""

CRON_ENV_KEYS = ("HOME", "LOGNAME", "USER", paths.ENV_HOME, "PYTHON_KEYRING_BACKEND")
"""What a cron job's environment has: no DISPLAY, no D-Bus session, minimal PATH."""


def cron_keyring_probe() -> KeyringProbe:
    """Read the token store from a child process with a cron-like environment."""
    env = {key: os.environ[key] for key in CRON_ENV_KEYS if key in os.environ}
    env.setdefault(paths.ENV_HOME, str(paths.home_dir()))
    env["PATH"] = "/usr/bin:/bin"
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
            [sys.executable, "-c", _PROBE_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return KeyringProbe(False, f"the keyring did not answer within {PROBE_TIMEOUT:g} s")
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return KeyringProbe(False, f"the probe failed (exit {done.returncode})")
    if not answer.get("ok"):
        return KeyringProbe(False, str(answer.get("error")))
    token = "the Trigon token is readable" if answer.get("token") else "no Trigon token stored"
    return KeyringProbe(True, f"{answer.get('backend')}: {token}", bool(answer.get("token")))


def keyring_check(
    config: Config, probe: KeyringProber = cron_keyring_probe, *, token_stored: bool | None = None
) -> Check:
    """The OS keyring must answer without anyone at a desktop: cron has no session.

    ``token_stored``: whether this session reads the Trigon token; a keyring that answers
    from cron without it (another backend there) fails the 00:30 run all the same.
    """
    name, title = _check("keyring.cron")
    if config.trigon.token_store == "file":
        return passed(name, title, f"tokens are in {paths.token_file()}; no keyring needed")
    result = probe()
    if result.ok and token_stored and result.token is False:
        return failed(
            name,
            title,
            f"from a cron-like environment the keyring answers ({result.detail}), but the "
            "Trigon token stored from this session is not there: cron reaches another keyring",
            "set the same PYTHON_KEYRING_BACKEND in the crontab as in this shell, or run "
            "`trigon-sync connect --token-store file` (and connect-uku)",
            ExitCode.CONFIG,
        )
    if result.ok:
        return passed(name, title, f"from a cron-like environment: {result.detail}")
    return failed(
        name,
        title,
        f"from a cron-like environment (no desktop session): {result.detail}",
        "select a keyring backend that works headless and set PYTHON_KEYRING_BACKEND in the "
        "crontab too, or run `trigon-sync connect --token-store file` (and connect-uku)",
        ExitCode.CONFIG,
    )


def permissions_check(home: Path | None = None) -> Check:
    """Tokens and state are private: home 0700, config/state/token files 0600."""
    name, title = _check("files.permissions")
    home = home or paths.home_dir()
    if not home.exists():
        return passed(name, title, f"{home} does not exist yet")
    loose: list[str] = []
    fixes: list[str] = []
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        loose.append(f"{home} is {mode:04o}")
        fixes.append(f"chmod 700 {home}")
    for path in (paths.config_file(), paths.state_file(), paths.token_file()):
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                loose.append(f"{path.name} is {mode:04o}")
                fixes.append(f"chmod 600 {path}")
    if loose:
        return failed(
            name,
            title,
            "readable by others: " + "; ".join(loose),
            "; ".join(fixes),
            ExitCode.CONFIG,
        )
    return passed(name, title, str(home))


def read_crontab() -> str | None:
    """The user's crontab (``crontab -l``), or None when there is none or no cron."""
    try:
        done = subprocess.run(
            ["crontab", "-l"],  # noqa: S607 - the system's crontab, found on PATH
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _cron_tz(crontab: str | None, environ: Mapping[str, str]) -> str | None:
    """Where Tallinn time is set for cron: a CRON_TZ/TZ line, or this process's env."""
    for line in (crontab or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() in {"CRON_TZ", "TZ"} and value.strip().strip("'\"") == TALLINN_ZONE:
            return f"crontab sets {key.strip()}={TALLINN_ZONE}"
    if environ.get("CRON_TZ") == TALLINN_ZONE:
        return f"CRON_TZ={TALLINN_ZONE} is set"
    return None


def timezone_check(
    tallinn_now: dt.datetime,
    *,
    crontab: str | None,
    environ: Mapping[str, str] | None = None,
) -> Check:
    """Import days are Tallinn dates; a cron on another zone runs at another Tallinn hour.

    The tool itself always uses the Tallinn date, so the counts are right either way; what
    goes wrong is *when* cron starts it: ``30 0 * * *`` on a UTC server is 02:30/03:30 in
    Tallinn, and on a server east of Tallinn 00:30 is still the previous Tallinn day, so the
    run finds nothing due and the import slips by a day.
    """
    name, title = _check("clock.timezone")
    environ = os.environ if environ is None else environ
    system_now = tallinn_now.astimezone()
    year = tallinn_now.year
    same_zone = all(
        moment.astimezone().utcoffset() == moment.utcoffset()
        for moment in (
            dt.datetime(year, 1, 15, 12, tzinfo=TALLINN),
            dt.datetime(year, 7, 15, 12, tzinfo=TALLINN),
        )
    )
    both = (
        f"Tallinn {tallinn_now:%d.%m.%Y %H:%M} ({tallinn_now:%z}), "
        f"system {system_now:%d.%m.%Y %H:%M} ({system_now:%z})"
    )
    if same_zone:
        return passed(name, title, f"the system clock is on Tallinn time: {both}")
    configured = _cron_tz(crontab, environ)
    if configured:
        return passed(name, title, f"{configured}; {both}")
    dates = (
        "the dates differ right now"
        if system_now.date() != tallinn_now.date()
        else "the same date right now"
    )
    return warned(
        name,
        title,
        f"the system clock is not on Tallinn time ({both}; {dates}). trigon-sync always "
        "counts by the Tallinn date, but cron starts it by system time: `30 0 * * *` here is "
        f"not 00:30 in Tallinn",
        f"put CRON_TZ={TALLINN_ZONE} at the top of the crontab (see crontab.example)",
    )


def register_check(config: Config, now: dt.datetime) -> Check:
    """Registration codes are checked against a local register copy; warn when it is old."""
    from trigon_sync.register import resolve_register_file

    name, title = _check("register.file")
    path = resolve_register_file(None, config.register.file)
    if path is None:
        if config.register.download:
            return warned(
                name,
                title,
                "no Business Register file yet: the next `import-clients` downloads it",
                "run `trigon-sync register update` to fetch it now (and see that it works)",
            )
        return warned(
            name,
            title,
            "no Business Register file: imports cannot mark codes missing from the register",
            "run `trigon-sync register update`",
        )
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return failed(
            name,
            title,
            f"register.file is {path}, which does not exist",
            "run `trigon-sync register update`, or fix register.file in config.toml",
            ExitCode.CONFIG,
        )
    modified = dt.datetime.fromtimestamp(mtime, tz=TALLINN)
    age = (now - modified).days
    detail = f"{path} from {format_ee(modified.date())} ({_plural(age, 'day')} old)"
    if age > REGISTER_MAX_AGE_DAYS:
        return warned(
            name,
            title,
            detail,
            "run `trigon-sync register update` (the register publishes a new file daily)",
        )
    return passed(name, title, detail)


def environment_checks(
    config: Config | None,
    tallinn_now: dt.datetime,
    *,
    keyring_probe: KeyringProber = cron_keyring_probe,
    crontab: Callable[[], str | None] = read_crontab,
    environ: Mapping[str, str] | None = None,
    trigon_token: bool | None = None,
) -> list[Check]:
    """Keyring from cron, file modes, time zone, register file (no Trigon/Uku call)."""
    checks: list[Check] = []
    if config is None:
        checks.append(skipped(*_check("keyring.cron"), "config.toml is not valid"))
    else:
        checks.append(keyring_check(config, keyring_probe, token_stored=trigon_token))
    checks.append(permissions_check())
    checks.append(timezone_check(tallinn_now, crontab=crontab(), environ=environ))
    if config is None:
        checks.append(skipped(*_check("register.file"), "config.toml is not valid"))
    else:
        checks.append(register_check(config, tallinn_now))
    return checks
