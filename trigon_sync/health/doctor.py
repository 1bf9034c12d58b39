"""The ``doctor`` report: ``status`` plus the live checks against Trigon and Uku and the
checks of the machine cron runs on (see health/checks.py for the model).

The CLI builds the clients (or records why it could not) and the environment checks;
:func:`diagnose` only combines them, so tests pass sandbox transports and canned
environment results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trigon_sync.errors import ExitCode
from trigon_sync.health.checks import Check, Outcome, exit_code
from trigon_sync.health.live_checks import clock_check, trigon_checks, uku_checks
from trigon_sync.health.status import StatusReport
from trigon_sync.settings.config import Config
from trigon_sync.store import paths
from trigon_sync.store.state import State


@dataclass(frozen=True)
class DoctorReport:
    """``status`` plus the live and environment checks; ``to_json`` is the ``--json`` document."""

    status: StatusReport
    live: tuple[Check, ...]
    environment: tuple[Check, ...]

    @property
    def checks(self) -> tuple[Check, ...]:
        return (*self.status.checks, *self.live, *self.environment)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.checks)

    def to_json(self) -> dict[str, Any]:
        checks = self.checks
        return {
            "command": "doctor",
            "healthy": self.exit_code is ExitCode.OK,
            "exit_code": int(self.exit_code),
            "today": self.status.facts.today,
            "summary": {
                str(outcome): sum(1 for c in checks if c.outcome is outcome) for outcome in Outcome
            },
            "checks": [check.to_json() for check in checks],
            "status": self.status.to_json(),
        }


def _gate(report: StatusReport, name: str) -> str | None:
    """Why live checks of a service cannot run, from the status lines (None: they can)."""
    for check in report.checks:
        if check.name == name and check.outcome is not Outcome.OK:
            # What went wrong, in the failed check's own words ("no config file at …"):
            # its title ("config.toml is valid") + "failed" read as the opposite.
            return check.detail.removeprefix("skipped: ").split("; ")[0]
    return None


def live_gates(report: StatusReport) -> tuple[str | None, str | None]:
    """(Trigon, Uku) skip reasons: no live call for a service that is not connected."""
    base = _gate(report, "config.valid") or _gate(report, "state.readable")
    if base:
        return base, base
    return _gate(report, "trigon.connected"), _gate(report, "uku.connected")


def diagnose(
    report: StatusReport, *, trigon: Any, uku: Any, environment: list[Check]
) -> DoctorReport:
    """Add the live checks to a status."""
    facts = report.facts
    if facts.config is None or facts.whole_state is None:
        reason = "config.toml or state.toml is not readable"
        trigon, uku = reason, reason
        config, state = Config(path=paths.config_file()), State()
    else:
        config, state = facts.config, facts.whole_state
    live = [
        *trigon_checks(state, trigon),
        *uku_checks(config, state, uku),
        clock_check({"Trigon": trigon, "Uku": uku}),
    ]
    return DoctorReport(status=report, live=tuple(live), environment=tuple(environment))
