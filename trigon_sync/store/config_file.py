"""config.toml on disk: reading it into the typed settings, and editing it in place.

The settings model and its checks are pure (``trigon_sync.settings``); this module is the one
place that opens the file, so everything that reads settings from a home goes through
:func:`load_config` and every change goes through :func:`edit_config` (tomlkit keeps the
admin's comments and order; the atomic writer keeps a crash from leaving half a file).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from trigon_sync import redact
from trigon_sync.errors import ConfigError, Problem
from trigon_sync.settings.checks import SECRET_SETTINGS, parse_config
from trigon_sync.settings.config import DATE_LIKE, Config, explain_date
from trigon_sync.store import paths, toml_read
from trigon_sync.store.toml_values import without_none

if TYPE_CHECKING:
    import tomlkit

# tomlkit and the atomic writer are imported by edit_config only: reading the settings (every
# command does) needs neither.


def load_config(path: Path | None = None) -> Config:
    """Load and validate config.toml; :class:`ConfigError` lists every problem found."""
    path = path or paths.config_file()
    raw = _read_raw(path)
    if raw is None:
        return Config(path=path)
    _register_secrets(raw)
    return parse_config(raw, path)


def _register_secrets(raw: Mapping[str, Any]) -> None:
    """Tell the scrubber (redact.py) the secret settings before anything can quote them:
    the ping URL whole, and its path (the part that names the check) on its own."""
    from urllib.parse import urlsplit

    for key in SECRET_SETTINGS:
        section, _, name = key.partition(".")
        table = raw.get(section)
        value = table.get(name) if isinstance(table, Mapping) else None
        if not isinstance(value, str):
            continue
        redact.register(value)
        redact.register(value.strip().rstrip("/"))
        path = urlsplit(value.strip()).path.strip("/")
        if len(path) >= 8:  # a path short enough to occur elsewhere is no secret on its own
            redact.register(path)


@contextlib.contextmanager
def edit_config(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Yield the raw TOML document to change; on exit validate it and write it atomically.

    Setting a value to ``None`` removes the key. Nothing is written if the block raises
    or the result is invalid (:class:`ConfigError`).
    """
    import tomlkit

    from trigon_sync.store import atomic

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
        return toml_read.loads(text)
    except toml_read.TOMLDecodeError as exc:
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
    named = key_match.group(1).strip("\"'") if key_match is not None else ""
    secret = f"{section}.{named}" in SECRET_SETTINGS  # its line is not quoted: a secret
    where = f"line {number}" if secret else f"line {number}: {lines[number - 1].strip()}"
    detail = f"{_AT_LINE.sub('', message).strip()} ({where})"
    if key_match is None:
        return f"line {number}", detail
    key = key_match.group(1).strip("\"'")
    value = lines[number - 1].split("=", 1)[1].split("#", 1)[0].strip()
    if DATE_LIKE.match(value):
        detail = explain_date(value)
    return (f"{section}.{key}" if section else key), detail
