"""Downloading the Business Register file, bounded in size and time, one run at a time.

The download runs inside the nightly job (``[import] auto_import = "create"``), so a
misbehaving server must not be able to cost more than a warning: an endless body filled a
48 MB home, and a byte every 20 s (each read well inside any per-read timeout) kept two
cron runs downloading side by side. So:

* **size cap** (:data:`DEFAULT_MAX_MB`, the real file is a few tens of MB): a declared
  ``Content-Length`` above it is refused before a byte is written, a body that grows past
  it is stopped there;
* **total deadline** over connect, headers and the whole body, not per read: a watchdog
  shuts the socket down when it passes, so even a server that sends nothing more cannot
  hold the run longer;
* **lock** (``register/download.lock``): a second run does not wait, it uses the older
  file;
* the body goes to a temp file next to the target and replaces it only when complete and
  a register zip (:func:`atomic.replacing`); any failure removes the partial file.

Both bounds can be lowered for tests or small homes with ``TRIGON_SYNC_REGISTER_MAX_MB``
and ``TRIGON_SYNC_REGISTER_DEADLINE`` (seconds); other values keep the defaults.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from trigon_sync.business_register.file_format import (
    REGISTER_ZIP_NAME,
    RegisterFileError,
    check_register_file,
)
from trigon_sync.errors import AnswerRefused, ApiError, BusyError, ServiceUnavailable
from trigon_sync.store import atomic, home_safety, paths

if TYPE_CHECKING:  # httpx is imported only to download: reading the register needs no HTTP
    import httpx

DEFAULT_MAX_MB = 200.0
"""The register's zip is a few tens of MB (about 373,000 companies); room to grow."""
DEFAULT_DEADLINE = 300.0
"""Seconds for the whole download: minutes more than any working connection needs."""
ENV_MAX_MB = "TRIGON_SYNC_REGISTER_MAX_MB"
ENV_DEADLINE = "TRIGON_SYNC_REGISTER_DEADLINE"
READ_TIMEOUT, CONNECT_TIMEOUT = 60.0, 10.0
"""Seconds per read and to connect, each also capped to what is left of the deadline."""
MB = 1024 * 1024

ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class DownloadLimits:
    """How much one download may write and how long it may take."""

    max_bytes: int = int(DEFAULT_MAX_MB * MB)
    deadline: float = DEFAULT_DEADLINE

    @classmethod
    def from_env(cls) -> DownloadLimits:
        """The defaults, lowered (or raised) by the two environment variables."""
        max_mb = _positive(os.environ.get(ENV_MAX_MB), DEFAULT_MAX_MB)
        return cls(
            max(1, int(max_mb * MB)), _positive(os.environ.get(ENV_DEADLINE), DEFAULT_DEADLINE)
        )


def _positive(text: str | None, default: float) -> float:
    try:
        value = float(text or "")
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n:,} bytes"


@contextlib.contextmanager
def download_lock(directory: Path) -> Iterator[None]:
    """One download per home at a time; :class:`BusyError` at once if another holds it."""
    import filelock

    path = home_safety.guard_write(directory / "download.lock")
    lock = filelock.FileLock(str(path), timeout=0, mode=0o600, thread_local=False)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BusyError(
            "another trigon-sync run is downloading the Business Register file",
            hint="wait for it to finish; nothing was changed",
        ) from None
    try:
        yield
    finally:
        lock.release()


def download_register(
    url: str,
    *,
    client: httpx.Client,
    dest_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    limits: DownloadLimits | None = None,
) -> Path:
    """Fetch the register zip from ``url`` into ``dest_dir`` (default ``paths.register_dir()``).

    The file is streamed to a temporary name within the limits, checked to be a register
    zip, and only then moved over the previous file, so a failed, oversized, slow or wrong
    download never replaces a good file and leaves no partial one. ``on_progress(done,
    total)`` is called as bytes arrive; ``total`` is None when the server sends no length.
    """
    limits = limits or DownloadLimits.from_env()
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

    with download_lock(directory):
        atomic.remove_stale_temps(target, suffix=".part")  # a killed download's leftovers
        with atomic.replacing(target, suffix=".part", before_replace=must_be_a_register) as out:
            _stream_to(url, client, out, on_progress, limits)
    return target


def _stream_to(
    url: str,
    client: httpx.Client,
    out: BinaryIO,
    on_progress: ProgressCallback | None,
    limits: DownloadLimits,
) -> None:
    hint = "check the network and the URL, then run `trigon-sync register update` again"
    started = time.monotonic()
    deadline = started + limits.deadline
    watchdog = _Watchdog(limits.deadline)
    try:
        with client.stream("GET", url, timeout=_timeout(limits.deadline)) as response:
            watchdog.watch(response)
            if response.status_code >= 400:
                raise ApiError(
                    f"downloading the Business Register file failed: HTTP "
                    f"{response.status_code} from {url}",
                    status=response.status_code,
                    hint=hint,
                )
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isascii() and length.isdigit() else None
            if total is not None and total > limits.max_bytes:
                raise _too_large(url, f"announced {_size(total)}", limits)
            done = 0
            for chunk in response.iter_bytes():
                done += len(chunk)
                if done > limits.max_bytes:
                    raise _too_large(url, "sent more", limits)
                out.write(chunk)
                if time.monotonic() > deadline:
                    raise _too_slow(url, done, limits)
                if on_progress is not None:
                    on_progress(done, total)
            if watchdog.fired:  # the shut socket read as the end of an unsized body
                raise _too_slow(url, done, limits)
    except _http_errors() as exc:
        if watchdog.fired or time.monotonic() > deadline:
            raise _too_slow(url, None, limits) from None
        raise ServiceUnavailable(
            f"downloading the Business Register file from {url} failed: {exc}", hint=hint
        ) from None
    finally:
        watchdog.cancel()


def _too_large(url: str, what: str, limits: DownloadLimits) -> AnswerRefused:
    return AnswerRefused(
        f"the Business Register file from {url} {what} than the "
        f"{_size(limits.max_bytes)} allowed; the download was stopped and removed",
        hint=f"check the URL; if the register really grew, raise ${ENV_MAX_MB}",
    )


def _too_slow(url: str, done: int | None, limits: DownloadLimits) -> ServiceUnavailable:
    got = f" ({_size(done)} received)" if done is not None else ""
    return ServiceUnavailable(
        f"downloading the Business Register file from {url} took longer than "
        f"{limits.deadline:g} s{got}; the download was stopped and removed",
        hint=f"try again later; ${ENV_DEADLINE} sets the time allowed",
    )


def _timeout(deadline: float) -> httpx.Timeout:
    import httpx

    return httpx.Timeout(min(READ_TIMEOUT, deadline), connect=min(CONNECT_TIMEOUT, deadline))


class _Watchdog:
    """Shuts the download's socket down when the deadline passes, ending a blocked read.

    httpx's timeouts are per read: a byte every 20 s never trips a 60-s read timeout, and
    a read already waiting is not ended by a deadline checked between chunks.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, response: Any) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        self._socket = sock if isinstance(sock, socket.socket) else None

    def _fire(self) -> None:
        self.fired = True
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def download_client() -> httpx.Client:
    """The HTTP client a register download uses (httpx is loaded only here)."""
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT), follow_redirects=True
    )


def _http_errors() -> type[Exception]:
    import httpx

    return httpx.HTTPError
