"""Typed, fully validated settings from ``config.toml``.

The file is edited by hand (by accountants, in cron set-ups) and by commands, so loading
reports *every* problem at once, each as ``file:key: message`` with what to write instead;
a run never starts on half-understood settings. A missing file is simply an empty
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
import string
import tomllib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import tomlkit

from trigon_sync import atomic, fields, naming, paths
from trigon_sync.dates import parse_date
from trigon_sync.errors import ConfigError, Problem, UsageError
from trigon_sync.schedule import RULE_KINDS, RuleKind, ScheduleRule

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

_SECTIONS: dict[str, tuple[str, ...]] = {
    "trigon": ("base_url", "email", "token_store", "auth", "environment"),
    "uku": ("base_url", "company", "settle_seconds"),
    "summary": ("task_title", "topic", "auto_complete", "first_import_date", "schedule", "day"),
    "fields": fields.KEYS,
    "register": ("file", "download", "url", "max_age_days"),
    "import": ("auto_import",),
    "anomalies": ("spike_factor", "history_periods", "hold"),
}
_SECRET_KEYS = {"password", "token", "refresh_token", "access_token", "api_key", "key", "secret"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
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
    answer was lost is looked for again only after this long (task_writer.py)."""


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
    """When a count looks wrong before it is billed (anomalies.py), and whether to hold it."""

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
    checker = _Checker(str(path))
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


def require_schedule(config: Config) -> tuple[ScheduleRule, dt.date]:
    """The rule and first import date, or a :class:`ConfigError` naming what to set."""
    rule, first = config.summary.schedule, config.summary.first_import_date
    if rule is not None and first is not None:
        return rule, first
    missing = [
        Problem(str(config.path), key, "not set")
        for key, value in (("summary.schedule", rule), ("summary.first_import_date", first))
        if value is None
    ]
    hint = "add it to config.toml; config.example.toml shows every key"
    if not config.exists:
        hint = (
            f"no config file yet at {config.path}: set up with `trigon-sync connect` and "
            "`map-fields` (or copy config.example.toml there)"
        )
    raise ConfigError(missing, hint=hint)


@contextlib.contextmanager
def edit_config(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield the raw TOML document to change; on exit validate it and write it atomically.

    Setting a value to ``None`` removes the key. Nothing is written if the block raises
    or the result is invalid (:class:`ConfigError`).
    """
    path = path or paths.config_file()
    raw: dict[str, Any] = _read_raw(path) or {}
    yield raw
    cleaned = cast(dict[str, Any], _drop_none(raw))
    raw.clear()
    raw.update(cleaned)
    parse_config(raw, path)
    document = _read_document(path)
    _merge(document, cleaned)
    atomic.write_private(path, tomlkit.dumps(document))


def _read_document(path: Path) -> tomlkit.TOMLDocument:
    """The file as tomlkit's editable document (an empty one when there is no file yet)."""
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


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


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
    if _DATE_LIKE.match(value):
        detail = _explain_date(value)
    return (f"{section}.{key}" if section else key), detail


_DATE_LIKE = re.compile(r"^\d{1,4}[.\-]\d{1,2}[.\-]\d{1,4}$")


def _explain_date(value: str) -> str:
    """Why a bare date-looking value is not TOML: wrong format, or no such day."""
    try:
        parsed = parse_date(value)
    except UsageError as exc:
        return f"{exc.message}; TOML dates are written year-month-day, e.g. 2024-10-01"
    return f"TOML dates are written year-month-day: {parsed.isoformat()}"


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = naming.closest(word, choices)
    return f"; did you mean {close!r}?" if close else ""


class _Checker:
    """Collects problems while building the Config, so the user sees all of them at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, key, message))

    def config(self, raw: Mapping[str, Any], path: Path) -> Config:
        sections: dict[str, Mapping[str, Any]] = {}
        for name, value in raw.items():
            if name not in _SECTIONS:
                self.add(name, f"unknown setting{_suggest(name, tuple(_SECTIONS))}")
            elif not isinstance(value, dict):
                self.add(name, f"must be a [{name}] section, not a single value")
            else:
                sections[name] = value
                self._unknown_keys(name, value)
        return Config(
            path=path,
            exists=True,
            trigon=self._trigon(sections.get("trigon", {})),
            uku=self._uku(sections.get("uku", {})),
            summary=self._summary(sections.get("summary", {})),
            fields=self._fields(sections.get("fields", {})),
            register=self._register(sections.get("register", {}), path),
            imports=self._import(sections.get("import", {})),
            anomalies=self._anomalies(sections.get("anomalies", {})),
        )

    def _unknown_keys(self, section: str, table: Mapping[str, Any]) -> None:
        known = _SECTIONS[section]
        for key in table:
            if key in known:
                continue
            if key.lower() in _SECRET_KEYS:
                self.add(
                    f"{section}.{key}",
                    "secrets never belong in config.toml; remove it "
                    "(`connect` keeps the token in the OS keyring)",
                )
            elif section == "fields":
                self.add(
                    f"fields.{key}",
                    "not a Trigon field"
                    + (
                        _suggest(key, known) or "; the valid keys are listed in config.example.toml"
                    ),
                )
            else:
                self.add(f"{section}.{key}", f"unknown setting{_suggest(key, known)}")

    def _text(self, table: Mapping[str, Any], section: str, key: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(f"{section}.{key}", f"must be text in quotes, not {_kind(value)}")
            return None
        if not value.strip():
            self.add(f"{section}.{key}", "must not be empty")
            return None
        return value.strip()

    def _url(self, table: Mapping[str, Any], section: str, default: str) -> str:
        value = self._text(table, section, "base_url")
        if value is None:
            return default
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            self.add(f"{section}.base_url", f"not a web address: {value!r}")
        elif parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
            self.add(
                f"{section}.base_url",
                "must use https:// (plain http is only allowed for the local sandbox on 127.0.0.1)",
            )
        return value.rstrip("/")

    def _choice(
        self, table: Mapping[str, Any], section: str, key: str, choices: tuple[str, ...]
    ) -> str:
        """A text value from ``choices``; the first choice when unset or wrong (reported)."""
        value = self._text(table, section, key)
        if value is None:
            return choices[0]
        if value not in choices:
            shown = " or ".join(f'"{c}"' for c in choices)
            hint = _suggest(value, choices)
            self.add(f"{section}.{key}", f"must be {shown}, not {value!r}{hint}")
            return choices[0]
        return value

    def _trigon(self, table: Mapping[str, Any]) -> TrigonSettings:
        auth = self._choice(table, "trigon", "auth", TRIGON_AUTH_MODES)
        environment = self._choice(table, "trigon", "environment", tuple(TRIGON_ENVIRONMENT_URLS))
        base_url = self._url(table, "trigon", TRIGON_ENVIRONMENT_URLS[environment])
        email = self._text(table, "trigon", "email")
        if email is not None and not _EMAIL.match(email):
            self.add("trigon.email", f"not an email address: {email!r}")
        store = self._text(table, "trigon", "token_store") or "keyring"
        if store not in TOKEN_STORES:
            self.add("trigon.token_store", f'must be "keyring" or "file", not {store!r}')
            store = "keyring"
        return TrigonSettings(
            base_url=base_url,
            email=email,
            token_store=cast(TokenStore, store),
            auth=cast(TrigonAuthMode, auth),
            environment=cast(TrigonEnvironment, environment),
        )

    def _uku(self, table: Mapping[str, Any]) -> UkuSettings:
        settle = table.get("settle_seconds", DEFAULT_SETTLE_SECONDS)
        if (
            isinstance(settle, bool)
            or not isinstance(settle, int | float)
            or not 0 <= settle <= 600
        ):
            self.add("uku.settle_seconds", "must be a number of seconds from 0 to 600")
            settle = DEFAULT_SETTLE_SECONDS
        return UkuSettings(
            base_url=self._url(table, "uku", UKU_DEFAULT_URL),
            company=self._text(table, "uku", "company"),
            settle_seconds=float(settle),
        )

    def _summary(self, table: Mapping[str, Any]) -> SummarySettings:
        title = self._text(table, "summary", "task_title")
        if title is not None:
            self._check_title(title)
        topic: str | int | None
        raw_topic = table.get("topic")
        if isinstance(raw_topic, int) and not isinstance(raw_topic, bool):
            topic = raw_topic
            if topic <= 0:
                self.add("summary.topic", "an Uku topic id must be a positive number")
        else:
            topic = self._text(table, "summary", "topic")
        auto_complete = table.get("auto_complete", False)
        if not isinstance(auto_complete, bool):
            self.add("summary.auto_complete", f"must be true or false, not {_kind(auto_complete)}")
            auto_complete = False
        return SummarySettings(
            task_title=title,
            topic=topic,
            auto_complete=auto_complete,
            first_import_date=self._first_import_date(table.get("first_import_date")),
            schedule=self._schedule(table),
        )

    def _check_title(self, title: str) -> None:
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(title) if name is not None]
        except ValueError:
            self.add(
                "summary.task_title", "has an unmatched { or }; write {{ or }} for a literal brace"
            )
            return
        for name in names:
            if name != "period":
                self.add(
                    "summary.task_title",
                    f"unknown placeholder {{{name}}}; only {{period}} "
                    "(the month, YYYY-MM) is supported",
                )

    def _first_import_date(self, value: Any) -> dt.date | None:
        key = "summary.first_import_date"
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            self.add(key, "must be a date without a time, e.g. 2024-10-01")
            return None
        if isinstance(value, dt.date):
            if value < EARLIEST_FIRST_IMPORT_DATE:
                self.add(
                    key,
                    f"{value.isoformat()} is before {EARLIEST_FIRST_IMPORT_DATE.isoformat()}: "
                    "the first run would count decades in one window; use the day counting "
                    "should really start",
                )
                return None
            return value
        if isinstance(value, str):
            try:
                parsed = parse_date(value)
            except UsageError as exc:
                self.add(key, f"{exc.message}; write a date without quotes, e.g. 2024-10-01")
            else:
                self.add(
                    key,
                    f"must be a TOML date without quotes: first_import_date = {parsed.isoformat()}",
                )
            return None
        self.add(key, f"must be a date such as 2024-10-01, not {_kind(value)}")
        return None

    def _schedule(self, table: Mapping[str, Any]) -> ScheduleRule | None:
        kind = table.get("schedule")
        day = table.get("day")
        valid_kind: str | None = None
        if kind is not None:
            if not isinstance(kind, str) or kind not in RULE_KINDS:
                shown = repr(kind) if isinstance(kind, str) else _kind(kind)
                hint = _suggest(kind, RULE_KINDS) if isinstance(kind, str) else ""
                self.add(
                    "summary.schedule",
                    f"unknown schedule {shown}; use one of {', '.join(RULE_KINDS)}{hint}",
                )
            else:
                valid_kind = kind
        if day is not None:
            if not isinstance(day, int) or isinstance(day, bool):
                self.add("summary.day", f"must be a whole number from 1 to 31, not {_kind(day)}")
                return None
            if not 1 <= day <= 31:
                self.add(
                    "summary.day",
                    f"must be from 1 to 31, not {day} (a day past the "
                    "month's end means its last day)",
                )
                return None
            if kind is not None and kind != "day_of_next_month":
                self.add(
                    "summary.day",
                    f'only used with schedule = "day_of_next_month"; remove it for {kind!r}',
                )
                return None
        if valid_kind == "day_of_next_month" and day is None:
            self.add(
                "summary.day",
                'required with schedule = "day_of_next_month" '
                "(the day of the following month, 1 to 31)",
            )
            return None
        if valid_kind is None:
            if day is not None and kind is None:
                self.add("summary.day", 'set only with schedule = "day_of_next_month"')
            return None
        return ScheduleRule(cast(RuleKind, valid_kind), day)

    def _fields(self, table: Mapping[str, Any]) -> dict[str, str | int]:
        mapping: dict[str, str | int] = {}
        targets: dict[str | int, str] = {}
        for key, value in table.items():
            if not fields.is_known(key):
                continue  # reported by _unknown_keys
            target: str | int | None
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                target = value
            else:
                target = self._text(table, "fields", key)
            if target is None:
                continue
            normalised = naming.name_key(target) if isinstance(target, str) else target
            if normalised in targets:
                self.add(
                    f"fields.{key}",
                    f"maps to the same Uku field as "
                    f"{targets[normalised]}; each count needs its own field",
                )
                continue
            targets[normalised] = key
            mapping[key] = target
        return mapping

    def _register(self, table: Mapping[str, Any], config_path: Path) -> RegisterSettings:
        text = self._text(table, "register", "file")
        file: Path | None = None
        if text is not None:
            file = Path(text).expanduser()
            file = file if file.is_absolute() else config_path.parent / file
        download = table.get("download", True)
        if not isinstance(download, bool):
            self.add("register.download", f"must be true or false, not {_kind(download)}")
            download = True
        url = self._text(table, "register", "url")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                self.add("register.url", f"not a web address: {url!r}")
                url = None
        max_age = table.get("max_age_days", DEFAULT_REGISTER_MAX_AGE_DAYS)
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            self.add(
                "register.max_age_days",
                f"must be a whole number of days (0 or more), not {_kind(max_age)}",
            )
            max_age = DEFAULT_REGISTER_MAX_AGE_DAYS
        return RegisterSettings(file=file, download=download, url=url, max_age_days=max_age)

    def _import(self, table: Mapping[str, Any]) -> ImportSettings:
        choice = self._choice(table, "import", "auto_import", AUTO_IMPORT_CHOICES)
        return ImportSettings(auto_import=cast(AutoImport, choice))

    def _anomalies(self, table: Mapping[str, Any]) -> AnomalySettings:
        default = AnomalySettings()
        factor = table.get("spike_factor", default.spike_factor)
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 1:
            self.add("anomalies.spike_factor", f"must be a number above 1, not {_kind(factor)}")
            factor = default.spike_factor
        periods = table.get("history_periods", default.history_periods)
        if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= 60:
            self.add(
                "anomalies.history_periods", f"must be a whole number 1–60, not {_kind(periods)}"
            )
            periods = default.history_periods
        hold = table.get("hold", default.hold)
        if not isinstance(hold, bool):
            self.add("anomalies.hold", f"must be true or false, not {_kind(hold)}")
            hold = default.hold
        return AnomalySettings(spike_factor=float(factor), history_periods=periods, hold=hold)


def _kind(value: Any) -> str:
    """How a TOML value looks to the person who typed it."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return f"a date/time ({value.isoformat()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a section"
    return type(value).__name__
