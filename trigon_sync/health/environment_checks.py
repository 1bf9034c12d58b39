"""The checks of the machine cron runs on: the keyring without a desktop session, file
modes, the time zone cron uses, the Business Register file's age. Each takes what it
inspects as arguments, with small default probes for the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trigon_sync.clock import TALLINN
from trigon_sync.dates import format_ee
from trigon_sync.errors import ExitCode
from trigon_sync.health.checks import (
    Check,
    failed,
    named,
    passed,
    plural,
    skipped,
    warned,
)
from trigon_sync.health.monitoring_checks import monitoring_checks
from trigon_sync.settings.config import Config
from trigon_sync.store import paths

if TYPE_CHECKING:
    from trigon_sync.monitoring.ping import Send

REGISTER_MAX_AGE_DAYS = 35
"""The register is published daily; a copy older than about a month misses new companies."""
TALLINN_ZONE = "Europe/Tallinn"
PROBE_TIMEOUT = 15.0


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
from trigon_sync.store.secrets import KeyringStore, TRIGON_API_KEY, TRIGON_REFRESH_TOKEN
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
    name, title = named("keyring.cron")
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
    name, title = named("files.permissions")
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
    name, title = named("clock.timezone")
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
    from trigon_sync.business_register.file_format import resolve_register_file

    name, title = named("register.file")
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
    detail = f"{path} from {format_ee(modified.date())} ({plural(age, 'day')} old)"
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
    ping_send: Send | None = None,
) -> list[Check]:
    """Keyring from cron, file modes, time zone, register file (no Trigon/Uku call), and
    the monitoring ([monitoring]: one ``/log`` ping to the monitor when a URL is set)."""
    checks: list[Check] = []
    if config is None:
        checks.append(skipped(*named("keyring.cron"), "config.toml is not valid"))
    else:
        checks.append(keyring_check(config, keyring_probe, token_stored=trigon_token))
    checks.append(permissions_check())
    checks.append(timezone_check(tallinn_now, crontab=crontab(), environ=environ))
    if config is None:
        checks.append(skipped(*named("register.file"), "config.toml is not valid"))
    else:
        checks.append(register_check(config, tallinn_now))
    if config is None:
        checks.extend(
            skipped(*named(name), "config.toml is not valid")
            for name in ("monitoring.ping", "monitoring.metrics", "monitoring.recent")
        )
    else:
        checks.extend(monitoring_checks(config, tallinn_now, ping_send))
    return checks
