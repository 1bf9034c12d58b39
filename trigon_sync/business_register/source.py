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
from typing import TYPE_CHECKING, BinaryIO

from trigon_sync.business_register.file_format import (
    REGISTER_ZIP_NAME,
    RegisterFileError,
    check_register_file,
    default_register_file,
)
from trigon_sync.clock import TALLINN
from trigon_sync.dates import format_ee
from trigon_sync.errors import ApiError, ServiceError, ServiceUnavailable
from trigon_sync.settings.config import RegisterSettings
from trigon_sync.store import atomic, paths

if TYPE_CHECKING:  # httpx is imported only to download: reading the register needs no HTTP
    import httpx

#: The register's open-data download (avaandmed.ariregister.rik.ee), updated daily.
DEFAULT_REGISTER_URL = (
    "https://avaandmed.ariregister.rik.ee/sites/default/files/avaandmed/" + REGISTER_ZIP_NAME
)
ENV_URL = "TRIGON_SYNC_REGISTER_URL"
"""Overrides ``[register] url`` (the sandbox prints it; tests point it at 127.0.0.1)."""
DOWNLOAD_TIMEOUT = (60.0, 10.0)
"""Seconds: per read, and to connect."""
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
    except ServiceError as exc:
        reason = exc.message
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


# --------------------------------------------------------------------------- download

ProgressCallback = Callable[[int, int | None], None]


def download_register(
    url: str,
    *,
    client: httpx.Client,
    dest_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Fetch the register zip from ``url`` into ``dest_dir`` (default ``paths.register_dir()``).

    The file is streamed to a temporary name, checked to be a register zip, and only
    then moved over the previous file, so a failed or wrong download (an HTML error
    page, a truncated body) never replaces a good file. ``on_progress(done, total)``
    is called as bytes arrive; ``total`` is None when the server sends no length.
    """
    directory = dest_dir if dest_dir is not None else paths.register_dir()
    paths.ensure_dir(directory)
    target = directory / REGISTER_ZIP_NAME

    def must_be_a_register(tmp: Path) -> None:
        try:
            check_register_file(tmp)
        except RegisterFileError as exc:
            raise ApiError(
                f"the file downloaded from {url} is not the Business Register file: {exc.problem}",
                status=200,
                hint="check the URL (`--url`) or try again later",
            ) from None

    with atomic.replacing(target, suffix=".part", before_replace=must_be_a_register) as out:
        _stream_to(url, client, out, on_progress)
    return target


def _stream_to(
    url: str, client: httpx.Client, out: BinaryIO, on_progress: ProgressCallback | None
) -> None:
    hint = "check the network and the URL, then run `trigon-sync register update` again"
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ApiError(
                    f"downloading the Business Register file failed: HTTP "
                    f"{response.status_code} from {url}",
                    status=response.status_code,
                    hint=hint,
                )
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isascii() and length.isdigit() else None
            done = 0
            for chunk in response.iter_bytes():
                out.write(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, total)
    except _http_errors() as exc:
        raise ServiceUnavailable(
            f"downloading the Business Register file from {url} failed: {exc}", hint=hint
        ) from None


def download_client() -> httpx.Client:
    """The HTTP client a register download uses (httpx is loaded only here)."""
    import httpx

    read, connect = DOWNLOAD_TIMEOUT
    return httpx.Client(timeout=httpx.Timeout(read, connect=connect), follow_redirects=True)


def _http_errors() -> type[Exception]:
    import httpx

    return httpx.HTTPError
