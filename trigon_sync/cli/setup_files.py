"""The set-up files that ship inside the package (``trigon_sync/examples/``), filled in.

A production install (pipx, a wheel) has no repository to copy examples from, so the
examples are package data and these functions make them ready for this machine:
``config init`` writes config.example.toml with every setting commented out, and
``schedule --cron`` / ``--systemd`` fill the cron line and the systemd units with this
home, this user and this installation's ``trigon-sync``. The repository's
``config.example.toml`` and ``crontab.example`` are links to the same files.
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import sys
from importlib import resources
from pathlib import Path

SERVICE = "trigon-sync.service"
TIMER = "trigon-sync.timer"
UNIT_DIR = "/etc/systemd/system"
CRON_TIME = "30 0 * * *"
_SETTING = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")
_KEYRING_ENV = "PYTHON_KEYRING_BACKEND"

# The example units' placeholders, replaced by render_units.
_USER = "User=trigon"
_HOME = 'Environment="TRIGON_SYNC_HOME=/srv/trigon-sync"'
_EXEC = "ExecStart=/opt/trigon-sync/.venv/bin/trigon-sync run-monthly --quiet"

INIT_HEADER = """\
# trigon-sync settings, written by `trigon-sync config init`: every key is commented out.
# `connect`, `connect-uku` and `map-fields` fill in what they set and keep these comments;
# or remove the "# " before a line and edit it. Check it with: trigon-sync config check
# Dates are TOML dates: year-month-day, no quotes (2024-10-01).
# Secrets never go here: the Trigon token (or ID token and API key) and the Uku API key
# live in the OS keyring (or tokens.toml with --token-store file).
"""


def example(name: str) -> str:
    """The text of one shipped example (``config.example.toml``, ``crontab.example``, the
    two systemd units)."""
    return resources.files("trigon_sync").joinpath("examples", name).read_text(encoding="utf-8")


def commented_config() -> str:
    """config.example.toml as a starting config.toml: its own header replaced, every
    setting line commented out, so the file is valid and sets nothing yet."""
    text = example("config.example.toml")
    _, _, body = text.partition("\n\n")  # the example's header says "copy this file"
    lines = [f"# {line}" if _SETTING.match(line) else line for line in body.splitlines()]
    return INIT_HEADER + "\n" + "\n".join(lines) + "\n"


def install_command() -> list[str]:
    """How this installation is started: its ``trigon-sync`` script beside the running
    Python (a venv's or pipx's bin directory), else ``python -m trigon_sync``."""
    script = Path(sys.executable).parent / "trigon-sync"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "trigon_sync"]


def current_user() -> str:
    return getpass.getuser()


def _keyring_backend() -> str | None:
    return os.environ.get(_KEYRING_ENV) or None


def cron_entry(home: Path, command: list[str]) -> str:
    """The crontab lines: Tallinn time and one self-contained nightly line (``%`` escaped:
    cron would turn it into a newline)."""
    words = [*command, "--home", str(home), "run-monthly", "--quiet"]
    line = " ".join(shlex.quote(word) for word in words)
    backend = _keyring_backend()
    if backend:
        line = f"{_KEYRING_ENV}={shlex.quote(backend)} {line}"
    line = line.replace("%", "\\%")
    return (
        f"# trigon-sync, nightly at 00:30 Tallinn time (`crontab -e` as {current_user()}; "
        "docs/operations.md).\n"
        "# Where cron ignores CRON_TZ (Debian's cron), use `trigon-sync schedule --systemd`.\n"
        "CRON_TZ=Europe/Tallinn\n"
        f"{CRON_TIME} {line}\n"
    )


def _unit_word(word: str) -> str:
    """One word of a unit file's command line: ``%`` doubled, quoted when it must be."""
    word = word.replace("%", "%%")
    if re.search(r'[\s"\'\\;$]', word) or not word:
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def _env_line(name: str, value: str) -> str:
    value = value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return f'Environment="{name}={value}"'


def render_units(home: Path, command: list[str], user: str) -> dict[str, str]:
    """The service and timer units for this home, user and installation, by file name."""
    service = example(SERVICE)
    environment = [_env_line("TRIGON_SYNC_HOME", str(home))]
    backend = _keyring_backend()
    if backend:
        environment.append(_env_line(_KEYRING_ENV, backend))
    exec_line = "ExecStart=" + " ".join(
        _unit_word(word) for word in [*command, "run-monthly", "--quiet"]
    )
    for placeholder, value in (
        (_USER, f"User={user}"),
        (_HOME, "\n".join(environment)),
        (_EXEC, exec_line),
    ):
        if placeholder not in service:
            raise RuntimeError(f"the shipped {SERVICE} lost its line {placeholder!r}")
        service = service.replace(placeholder, value)
    return {SERVICE: service, TIMER: example(TIMER)}
