"""Typed, fully validated settings from ``config.toml``.

The file is edited by hand (by accountants, in cron set-ups) and by commands, so loading
reports *every* problem at once, each as ``file:key: message`` with what to write instead;
a run never starts on half-understood settings (the checks are in settings/checks.py;
this module holds the settings and reads and edits the file). A missing file is simply an empty
configuration: ``connect`` creates it, and each command says what it still needs.
Commands change the file only through :func:`edit_config`, which validates first and then
writes atomically. The admin's file is edited in place with tomlkit, a style-preserving
TOML library: comments, key order and blank lines survive ``map-fields`` and ``connect``,
and only the keys that change are rewritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import tomllib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from trigon_sync.dates import parse_date
from trigon_sync.errors import ConfigError, Problem, UsageError
from trigon_sync.schedule.rules import ScheduleRule
from trigon_sync.store import paths

if TYPE_CHECKING:
    import tomlkit

# tomlkit and the atomic writer are imported by edit_config: reading the settings (every
# command, the nightly no-op first) never needs them.

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


def load_config(path: Path | None = None) -> Config:
    """Load and validate config.toml; :class:`ConfigError` lists every problem found."""
    path = path or paths.config_file()
    raw = _read_raw(path)
    if raw is None:
        return Config(path=path)
    return parse_config(raw, path)


def parse_config(raw: Mapping[str, Any], path: Path) -> Config:
    """Validate an already-parsed TOML document; :class:`ConfigError` on any problem."""
    from trigon_sync.settings.checks import ConfigChecker  # it builds this module's settings

    checker = ConfigChecker(str(path))
    config = checker.config(raw, path)
    if checker.problems:
        raise ConfigError(checker.problems, hint="fix config.toml; see config.example.toml")
    return config


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
    hint = "set them with `trigon-sync map-fields` (config.example.toml shows every key)"
    if not config.exists:
        hint = (
            f"no config file yet at {config.path}: set up with `trigon-sync connect`, "
            "`import-clients`, `confirm` and `map-fields` (or copy config.example.toml there)"
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


@contextlib.contextmanager
def edit_config(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield the raw TOML document to change; on exit validate it and write it atomically.

    Setting a value to ``None`` removes the key. Nothing is written if the block raises
    or the result is invalid (:class:`ConfigError`).
    """
    import tomlkit

    from trigon_sync.store import atomic
    from trigon_sync.store.toml_values import without_none

    path = path or paths.config_file()
    raw: dict[str, Any] = _read_raw(path) or {}
    yield raw
    cleaned = cast(dict[str, Any], without_none(raw))
    raw.clear()
    raw.update(cleaned)
    parse_config(raw, path)
    document = _read_document(path)
    _merge(document, cleaned)
    atomic.write_private(path, tomlkit.dumps(document))


def _read_document(path: Path) -> tomlkit.TOMLDocument:
    """The file as tomlkit's editable document (an empty one when there is no file yet)."""
    import tomlkit

    try:
        return tomlkit.parse(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return tomlkit.document()


def _merge(container: Any, wanted: Mapping[str, Any]) -> None:
    """Make ``container`` (a tomlkit table) hold ``wanted``, touching only what differs:
    unchanged keys keep their comments and place; new keys go at the end of their table."""
    for key in [k for k in container if k not in wanted]:
        del container[key]
    for key, value in wanted.items():
        current = container.get(key)
        if isinstance(value, Mapping) and isinstance(current, MutableMapping):
            _merge(current, value)
        elif current is None or _plain(current) != value:
            container[key] = value


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _read_raw(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8-sig")  # Notepad saves UTF-8 with a BOM
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "(file)", f"cannot be read: {exc}")]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        key, detail = _locate_syntax_error(text, str(exc))
        raise ConfigError(
            [Problem(str(path), key, f"not valid TOML: {detail}")],
            hint="check quotes, '=' and [section] headers on that line",
        ) from None


_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-\"']+)\s*=")
_HEADER = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")


def _locate_syntax_error(text: str, message: str) -> tuple[str, str]:
    """Name the key on the offending line (``summary.day``) so the message points at it."""
    match = _AT_LINE.search(message)
    if match is None:
        return "(file)", message
    number = int(match.group(1))
    lines = text.splitlines()
    if not 1 <= number <= len(lines):
        return f"line {number}", message
    section = ""
    for line in lines[: number - 1]:
        header = _HEADER.match(line)
        if header:
            section = header.group(1).strip()
    key_match = _KEY_LINE.match(lines[number - 1])
    where = f"line {number}: {lines[number - 1].strip()}"
    detail = f"{_AT_LINE.sub('', message).strip()} ({where})"
    if key_match is None:
        return f"line {number}", detail
    key = key_match.group(1).strip("\"'")
    value = lines[number - 1].split("=", 1)[1].split("#", 1)[0].strip()
    if DATE_LIKE.match(value):
        detail = explain_date(value)
    return (f"{section}.{key}" if section else key), detail


DATE_LIKE = re.compile(r"^\d{1,4}[.\-]\d{1,2}[.\-]\d{1,4}$")


def explain_date(value: str) -> str:
    """Why a bare date-looking value is not TOML: wrong format, or no such day."""
    try:
        parsed = parse_date(value)
    except UsageError as exc:
        return f"{exc.message}; TOML dates are written year-month-day, e.g. 2024-10-01"
    return f"TOML dates are written year-month-day: {parsed.isoformat()}"
