"""The typed settings of ``config.toml``: one frozen dataclass per section, and the rules
that say whether they are complete enough for a monthly run.

Pure: the checks that build these from a parsed document are in ``settings/checks.py``, and
the one place that reads and edits the file is ``store/config_file.py``. A missing file is an
empty configuration: ``connect`` creates it, and each command says what it still needs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from trigon_sync.dates import parse_date
from trigon_sync.errors import ConfigError, Problem, UsageError
from trigon_sync.schedule.rules import ScheduleRule

EARLIEST_FIRST_IMPORT_DATE = dt.date(2000, 1, 1)
"""Counting from before this is a typo (1024 for 2024), not a migration."""

TRIGON_DEFAULT_URL = "https://api.trigon.ee/v1"
#: Trigon's base URL per environment (assumed; docs/trigon-api.md). base_url overrides it.
TRIGON_ENVIRONMENT_URLS: dict[str, str] = {
    "production": TRIGON_DEFAULT_URL,
    "test": "https://api-test.trigon.ee/v1",
}
TrigonEnvironment = Literal["production", "test"]
TrigonAuthMode = Literal["password", "api-key"]
TRIGON_AUTH_MODES: tuple[TrigonAuthMode, ...] = ("password", "api-key")
AutoImport = Literal["warn", "create"]
AUTO_IMPORT_CHOICES: tuple[AutoImport, ...] = ("warn", "create")
DEFAULT_REGISTER_MAX_AGE_DAYS = 7
UKU_DEFAULT_URL = "https://app.getuku.com/api/v3"
DEFAULT_SETTLE_SECONDS = 30.0
TOKEN_STORES = ("keyring", "file")
TokenStore = Literal["keyring", "file"]

MONTHLY_REQUIREMENTS: dict[str, str] = {
    "summary.task_title": "the summary task title",
    "summary.topic": "the Uku topic for summary tasks",
    "summary.schedule": "when in the month the import runs",
    "summary.first_import_date": "the day counting starts",
    "fields": "at least one Trigon field mapped to an Uku custom field",
}
"""What the monthly run needs, with a few words each for messages."""


@dataclass(frozen=True)
class TrigonSettings:
    """Where Trigon is and who is connected (never a password: tokens live in the keyring)."""

    base_url: str = TRIGON_DEFAULT_URL
    """``base_url`` from config.toml, else the URL of ``environment``."""
    email: str | None = None
    token_store: TokenStore = "keyring"
    auth: TrigonAuthMode = "password"
    """``password``: email + password, refresh token kept; ``api-key``: ID token + API key."""
    environment: TrigonEnvironment = "production"


@dataclass(frozen=True)
class UkuSettings:
    """Where Uku is and which company (``X-Uku-Company``) the tasks belong to."""

    base_url: str = UKU_DEFAULT_URL
    company: str | None = None
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    """How long a new client or task may take to show up in Uku's lists. A create whose
    answer was lost is looked for again only after this long (monthly/task_writer.py)."""


@dataclass(frozen=True)
class SummarySettings:
    """How the monthly summary tasks are made and when the import runs."""

    task_title: str | None = None
    topic: str | int | None = None
    """An Uku topic name (text) or id (integer)."""
    auto_complete: bool = False
    first_import_date: dt.date | None = None
    schedule: ScheduleRule | None = None

    def title_for(self, period: str) -> str:
        """The task title for a period label (``{period}`` -> ``YYYY-MM``)."""
        if self.task_title is None:
            raise ValueError("no task title configured")
        return self.task_title.format(period=period)


@dataclass(frozen=True)
class RegisterSettings:
    """The Business Register file: one the admin provides, or the one downloaded for them."""

    file: Path | None = None
    download: bool = True
    """Whether `import-clients` fetches the file itself when it is missing or too old."""
    url: str | None = None
    """Where to download it from (None: the register's own address)."""
    max_age_days: int = DEFAULT_REGISTER_MAX_AGE_DAYS


@dataclass(frozen=True)
class ImportSettings:
    """Step 6 of the help page: whether run-monthly imports new Trigon firms itself."""

    auto_import: AutoImport = "warn"
    """``warn``: only report firms not yet in Uku; ``create``: create the clear-cut ones."""


@dataclass(frozen=True)
class AnomalySettings:
    """When a count looks wrong before it is billed, and whether to hold it."""

    spike_factor: float = 10.0
    """A count above this many times its trailing median is flagged."""
    history_periods: int = 6
    """How many earlier periods the trailing median (and the zero check) look at."""
    hold: bool = False
    """Hold a flagged client's task back until `trigon-sync accept` (off by default)."""


@dataclass(frozen=True)
class MonitoringSettings:
    """Who hears from the unattended nightly run: a dead man's switch and a metrics file.

    Both are optional; with neither set the nightly run imports no monitoring code.
    """

    ping_url: str | None = None
    """A Healthchecks-style URL pinged at a run's start and end, and on nights with nothing
    due. A secret: anyone who has it can fake a ping, so it is never printed or logged."""
    metrics_file: Path | None = None
    """A Prometheus textfile-collector file (``*.prom``) rewritten after every run."""

    @property
    def enabled(self) -> bool:
        return self.ping_url is not None or self.metrics_file is not None


@dataclass(frozen=True)
class Config:
    """Everything config.toml says, with defaults filled in."""

    path: Path
    exists: bool = False
    trigon: TrigonSettings = field(default_factory=TrigonSettings)
    uku: UkuSettings = field(default_factory=UkuSettings)
    summary: SummarySettings = field(default_factory=SummarySettings)
    fields: Mapping[str, str | int] = field(default_factory=dict)
    """Trigon field key -> Uku task custom field: a name (text) or an id (integer)."""
    register: RegisterSettings = field(default_factory=RegisterSettings)
    imports: ImportSettings = field(default_factory=ImportSettings)
    """The ``[import]`` section (``import`` is a Python keyword)."""
    anomalies: AnomalySettings = field(default_factory=AnomalySettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)


def missing_for_monthly(config: Config) -> list[str]:
    """Keys the monthly run needs but the config leaves unset (see MONTHLY_REQUIREMENTS)."""
    summary = config.summary
    present = {
        "summary.task_title": summary.task_title is not None,
        "summary.topic": summary.topic is not None,
        "summary.schedule": summary.schedule is not None,
        "summary.first_import_date": summary.first_import_date is not None,
        "fields": bool(config.fields),
    }
    return [key for key, ok in present.items() if not ok]


def not_ready(config: Config, problems: list[Problem]) -> ConfigError:
    """The one "settings not ready" error: ``problems`` with the one way to set them up.

    ``schedule``, ``run-monthly`` and its nightly checks raise it, so a home that is not
    set up is told the same thing whichever command found out first."""
    hint = "set them with `trigon-sync map-fields` (`trigon-sync config init` shows every key)"
    if all(problem.key == "links" for problem in problems):
        hint = "import the clients: `trigon-sync import-clients`, then `trigon-sync confirm`"
    elif not config.exists:
        hint = (
            f"no config file yet at {config.path}: set up with `trigon-sync connect`, "
            "`import-clients`, `confirm` and `map-fields` (`trigon-sync config init` writes a "
            "commented config.toml)"
        )
    return ConfigError(problems, hint=hint)


def schedule_problems(config: Config) -> list[Problem]:
    """``summary.schedule`` and ``summary.first_import_date`` where unset: no timeline
    without both."""
    summary = config.summary
    return [
        Problem(str(config.path), key, "not set")
        for key, value in (
            ("summary.schedule", summary.schedule),
            ("summary.first_import_date", summary.first_import_date),
        )
        if value is None
    ]


def require_schedule(config: Config) -> tuple[ScheduleRule, dt.date]:
    """The rule and first import date, or a :class:`ConfigError` naming what to set."""
    rule, first = config.summary.schedule, config.summary.first_import_date
    if rule is not None and first is not None:
        return rule, first
    raise not_ready(config, schedule_problems(config))


DATE_LIKE = re.compile(r"^\d{1,4}[.\-]\d{1,2}[.\-]\d{1,4}$")


def explain_date(value: str) -> str:
    """Why a bare date-looking value is not TOML: wrong format, or no such day."""
    try:
        parsed = parse_date(value)
    except UsageError as exc:
        return f"{exc.message}; TOML dates are written year-month-day, e.g. 2024-10-01"
    return f"TOML dates are written year-month-day: {parsed.isoformat()}"
