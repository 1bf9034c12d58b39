"""Where the Business Register file comes from: which one an import checks, and the download.

The red X for codes missing from the register is part of the review, so `import-clients`
(and the automated import in `run-monthly`) should not depend on the admin knowing to run
`register update` first. :func:`choose_register` decides from the options, config.toml and
the downloaded file's age; :func:`fresh_register` carries the decision out, downloading
when needed, and never fails the import because the download did: it falls back to the
older file, or to check digits only, and says which in :attr:`RegisterSource.warning`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trigon_sync.business_register.download import (
    ProgressCallback,
    download_client,
    download_register,
)
from trigon_sync.business_register.file_format import REGISTER_ZIP_NAME, default_register_file
from trigon_sync.clock import TALLINN
from trigon_sync.dates import format_ee
from trigon_sync.errors import TrigonSyncError
from trigon_sync.settings.config import RegisterSettings

if TYPE_CHECKING:  # httpx is imported only to download: reading the register needs no HTTP
    import httpx

#: The register's open-data download (avaandmed.ariregister.rik.ee), updated daily.
DEFAULT_REGISTER_URL = (
    "https://avaandmed.ariregister.rik.ee/sites/default/files/avaandmed/" + REGISTER_ZIP_NAME
)
ENV_URL = "TRIGON_SYNC_REGISTER_URL"
"""Overrides ``[register] url`` (the sandbox prints it; tests point it at 127.0.0.1)."""
SECONDS_PER_DAY = 86_400.0


def register_url(configured: str | None) -> str:
    """Where the register file is downloaded from: $TRIGON_SYNC_REGISTER_URL, config, default."""
    return os.environ.get(ENV_URL, "").strip() or configured or DEFAULT_REGISTER_URL


@dataclass(frozen=True)
class RegisterPlan:
    """What to do: use ``path`` as it is, or download first (``download``)."""

    path: Path | None
    download: bool
    age_days: float | None = None
    """Age of the file at ``path`` (None: no file there)."""


def _age_days(path: Path, now: float) -> float | None:
    try:
        return max(0.0, (now - path.stat().st_mtime) / SECONDS_PER_DAY)
    except OSError:
        return None


def choose_register(
    explicit: Path | None, settings: RegisterSettings, *, download: bool, now: float
) -> RegisterPlan:
    """The decision alone (no network): a file given or configured is never replaced.

    ``download`` is False under ``--no-register-download``; ``now`` is a POSIX timestamp.
    """
    if explicit is not None:
        return RegisterPlan(explicit, False)
    if settings.file is not None:
        return RegisterPlan(settings.file, False)
    path = default_register_file()
    age = _age_days(path, now)
    if age is None:
        return RegisterPlan(None, download and settings.download)
    stale = age > settings.max_age_days
    return RegisterPlan(path, download and settings.download and stale, age)


@dataclass(frozen=True)
class RegisterSource:
    """The file the import uses (None: check digits only) and what to tell the user."""

    path: Path | None
    downloaded: bool = False
    warning: str | None = None
    """One line for stderr when the download failed (says what could not be checked)."""


def _day(path: Path) -> str:
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=TALLINN)
    return format_ee(stamp.date())


def _disk_reason(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"the Business Register file could not be saved{where}: {exc.strerror or exc}"


def fresh_register(
    plan: RegisterPlan,
    url: str,
    *,
    client_factory: Callable[[], httpx.Client] | None = None,
    on_progress: ProgressCallback | None = None,
    dest_dir: Path | None = None,
) -> RegisterSource:
    """Carry out ``plan``: download when asked, else (or on failure) use what is there.

    ``dest_dir`` downloads somewhere else than the home (a dry run keeps the home as it is).
    """
    if not plan.download:
        return RegisterSource(plan.path)
    factory = client_factory or (download_client)
    try:
        with factory() as client:
            path = download_register(url, client=client, dest_dir=dest_dir, on_progress=on_progress)
    except (TrigonSyncError, OSError) as exc:
        # Any failure (service, size, time, another run downloading, a full disk): the
        # partial file is gone already, and the import goes on without the new file.
        reason = exc.message if isinstance(exc, TrigonSyncError) else _disk_reason(exc)
        if plan.path is not None and plan.age_days is not None:
            days = int(plan.age_days)
            return RegisterSource(
                plan.path,
                warning=f"{reason}; using the older file from {_day(plan.path)} "
                f"({days} day{'s' if days != 1 else ''} old): companies registered or "
                "deleted since then are not reflected",
            )
        return RegisterSource(
            None,
            warning=f"{reason}; registration codes were checked for their check digit only, "
            "not against the Business Register (no red X for missing companies)",
        )
    return RegisterSource(path, downloaded=True)


__all__ = [
    "ProgressCallback",
    "RegisterPlan",
    "RegisterSource",
    "choose_register",
    "download_client",
    "download_register",
    "fresh_register",
    "register_url",
]
