"""Where trigon-sync keeps its files.

Everything lives in one home directory: ``$TRIGON_SYNC_HOME`` when set (the global
``--home`` option sets it too, so child processes agree), else the platform's user
config directory. Tests point the variable at ``tmp_path``; cron sets it explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "TRIGON_SYNC_HOME"
APP_NAME = "trigon-sync"


def home_option(value: str) -> str:
    """``--home DIR`` as the value of :data:`ENV_HOME`: absolute, ``~`` expanded.

    ValueError (its text says why) for an empty value, rather than taking it as the
    current directory (``--home "$UNSET"`` in a cron line would make a fresh, empty home
    wherever cron starts), and for an existing file.
    """
    if not value.strip():
        raise ValueError("is empty: give a directory (is a variable in the cron line unset?)")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{value!r} is a file, not a directory")
    return str(path.absolute())


def home_dir() -> Path:
    """The home directory (not created; see :func:`ensure_home`)."""
    override = os.environ.get(ENV_HOME)
    if override:
        return Path(override).expanduser()
    import platformdirs  # cron sets the home: its nightly call does not need this

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def ensure_home() -> Path:
    """Create the home directory with mode 0700 if needed and return it."""
    home = home_dir()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home


def ensure_dir(directory: Path) -> Path:
    """Create ``directory`` and every missing folder above it inside the home with mode
    0700 (``mkdir(parents=True)`` would leave the parents, the home itself included, to the
    umask: 0755 on most servers)."""
    home = ensure_home()
    try:
        inside = directory.relative_to(home)
    except ValueError:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return directory
    current = home
    for part in inside.parts:
        current = current / part
        current.mkdir(mode=0o700, exist_ok=True)
    return directory


def config_file() -> Path:
    return home_dir() / "config.toml"


def state_file() -> Path:
    return home_dir() / "state.toml"


def lock_file() -> Path:
    return home_dir() / "state.lock"


def logs_dir() -> Path:
    return home_dir() / "logs"


def journal_dir() -> Path:
    """One append-only file per open monthly period (see journal.py)."""
    return home_dir() / "journal"


RECORDS_NAME = "records.sqlite3"


def records_file() -> Path:
    """The records database (records_db.py): journals, intents, ledger, run history."""
    return home_dir() / RECORDS_NAME


def ledger_file() -> Path:
    """The ledger file of a version before the records database (records_migration.py
    moves it into ``records.sqlite3``)."""
    return home_dir() / "ledger.jsonl"


def token_file() -> Path:
    """The opt-in file token store (``--token-store file``), mode 0600."""
    return home_dir() / "tokens.toml"


def pending_token_file() -> Path:
    """Room reserved for a rotated Trigon refresh token the store could not save
    (pending_token.py)."""
    return home_dir() / "trigon-token.pending"


def register_dir() -> Path:
    """Downloaded Business Register files and their index caches."""
    return home_dir() / "register"


def installation_file() -> Path:
    """This home's installation id (installation.py); never rewritten once made."""
    return home_dir() / "installation-id"


def probe_facts_file() -> Path:
    """What the last ``doctor --probe`` measured about Uku (probe_facts.py)."""
    return home_dir() / "probe-facts.json"
