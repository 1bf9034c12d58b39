"""The check model behind ``status`` and ``doctor``: one :class:`Check` per thing that can be wrong.

Support staff walk the product's troubleshooting list by hand; every item of it is a check
with a stable name, a one-line detail and, when it fails, the fix (see
:data:`TROUBLESHOOTING` for the mapping). Checks never raise: a failure becomes a failed
check, and a check that cannot be judged because an earlier one failed is *skipped* with
that reason, so one broken connection does not hide the other problems.

The checks themselves live by kind, all returning :class:`Check`:

* health/local_checks.py (config, state, secret store, window, last run): no network, used by
  ``status`` and as the first lines of ``doctor``;
* health/live_checks.py: take an already built Trigon / Uku client (or the error building it
  raised), so tests inject sandbox transports and nothing there constructs a connection;
* health/environment_checks.py (keyring from cron, file modes, time zone, register file age):
  take what they inspect as arguments, with small default probes for the CLI.

The exit code of a list of checks is the code of the first failure: checks are ordered
from cause to consequence (configuration, then connections, then what depends on them).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trigon_sync.errors import ExitCode, TrigonSyncError


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
    "records.readable": "The records database (records.sqlite3) is readable",
    "secrets.store": "Token store is usable",
    "trigon.connected": "Trigon is connected",
    "uku.connected": "Uku is connected",
    "config.monthly": "Task title, topic, import schedule and field mapping are set",
    "clients.linked": "Clients are linked",
    "runs.current": "Every due period has been counted",
    "runs.last": "The last monthly run succeeded for every client",
    "clock.recorded": "The local clock is not behind the last recorded run",
    "runs.owed": "No client owes a period",
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
    "monitoring.ping": "The monitor's ping URL answers",
    "monitoring.metrics": "The metrics file can be written",
    "monitoring.recent": "The last ping and metrics are from the last night",
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
    "Counts look stale or wrong": ("runs.current", "runs.last", "runs.owed", "counts.anomalies"),
}
"""Each item of the product's troubleshooting section -> the checks that answer it."""


def named(name: str) -> tuple[str, str]:
    """(name, title) of a check in the catalogue, for the constructors above."""
    return name, TITLES[name]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def listed(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
