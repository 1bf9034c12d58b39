"""Checking config.toml's values and building the typed settings from them.

Every problem is collected, not just the first, each as ``file:key: message`` with what
to write instead (a close match for a misspelt key, the date format for a wrong date);
:func:`parse_config` raises them together.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from trigon_sync.dates import parse_date
from trigon_sync.errors import ConfigError, Problem, UsageError
from trigon_sync.schedule.rules import RULE_KINDS, RuleKind, ScheduleRule
from trigon_sync.settings import fields, naming
from trigon_sync.settings.config import (
    AUTO_IMPORT_CHOICES,
    DEFAULT_REGISTER_MAX_AGE_DAYS,
    DEFAULT_SETTLE_SECONDS,
    EARLIEST_FIRST_IMPORT_DATE,
    TOKEN_STORES,
    TRIGON_AUTH_MODES,
    TRIGON_ENVIRONMENT_URLS,
    UKU_DEFAULT_URL,
    AnomalySettings,
    AutoImport,
    Config,
    ImportSettings,
    MonitoringSettings,
    RegisterSettings,
    SummarySettings,
    TokenStore,
    TrigonAuthMode,
    TrigonEnvironment,
    TrigonSettings,
    UkuSettings,
)

_SECTIONS: dict[str, tuple[str, ...]] = {
    "trigon": ("base_url", "email", "token_store", "auth", "environment"),
    "uku": ("base_url", "company", "settle_seconds"),
    "summary": ("task_title", "topic", "auto_complete", "first_import_date", "schedule", "day"),
    "fields": fields.KEYS,
    "register": ("file", "download", "url", "max_age_days"),
    "import": ("auto_import",),
    "anomalies": ("spike_factor", "history_periods", "hold"),
    "monitoring": ("ping_url", "metrics_file"),
}
SECRET_SETTINGS = frozenset({"monitoring.ping_url"})
"""Settings whose value is a secret: never quoted in a message (not even a syntax error)."""
_SECRET_KEYS = {"password", "token", "refresh_token", "access_token", "api_key", "key", "secret"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = naming.closest(word, choices)
    return f"; did you mean {close!r}?" if close else ""


class ConfigChecker:
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
            monitoring=self._monitoring(sections.get("monitoring", {}), path),
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
            normalised = naming.label_key(target) if isinstance(target, str) else target
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

    def _monitoring(self, table: Mapping[str, Any], config_path: Path) -> MonitoringSettings:
        """The ping URL is never quoted back: it is a secret (anyone with it can ping)."""
        url = self._text(table, "monitoring", "ping_url")
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                self.add("monitoring.ping_url", "not a web address (http:// or https://)")
                url = None
            elif any(ch.isspace() or not ch.isprintable() for ch in url):
                self.add(
                    "monitoring.ping_url",
                    "holds a space or a control character; copy the URL again from the "
                    "monitor (a space is written %20)",
                )
                url = None
            elif parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
                self.add(
                    "monitoring.ping_url",
                    "must use https:// (plain http is only allowed on 127.0.0.1)",
                )
                url = None
        text = self._text(table, "monitoring", "metrics_file")
        metrics: Path | None = None
        if text is not None:
            metrics = Path(text).expanduser()
            metrics = metrics if metrics.is_absolute() else config_path.parent / metrics
            if metrics.suffix != ".prom":
                self.add(
                    "monitoring.metrics_file",
                    f"must end in .prom (node_exporter's textfile collector reads only those), "
                    f"not {metrics.name!r}",
                )
                metrics = None
        return MonitoringSettings(ping_url=url, metrics_file=metrics)


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


def parse_config(raw: Mapping[str, Any], path: Path) -> Config:
    """Validate an already-parsed TOML document; :class:`ConfigError` on any problem."""
    checker = ConfigChecker(str(path))
    config = checker.config(raw, path)
    if checker.problems:
        raise ConfigError(checker.problems, hint="fix config.toml; see config.example.toml")
    return config
