"""Healthchecks-style pings: ``<url>/start``, ``<url>`` (success), ``<url>/<exit code>``.

healthchecks.io (and Uptime Kuma's push monitors, Cronitor's, ntfy's…) alert when an
expected ping is late, which is what catches a cron job that never runs. The rules, as
borgmatic's monitoring hooks have them: a ping is bounded (``$TRIGON_SYNC_PING_TIMEOUT``
seconds for all its tries, default 10), retried a few times on a network error or a 5xx,
and a monitor that stays silent is only reported, never the run's failure.

The URL is a secret (whoever has it can fake a ping): store/config_file.py registers it
with redact.py when config.toml is read, and nothing here ever puts it in a message;
:func:`shown` names only its host.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from trigon_sync import redact

ENV_PING_TIMEOUT = "TRIGON_SYNC_PING_TIMEOUT"
DEFAULT_BUDGET = 10.0
BUDGET_RANGE = (0.1, 60.0)
ATTEMPTS = 3
FIRST_RETRY_DELAY = 0.5

START = "start"
SUCCESS = ""
LOG = "log"
"""Healthchecks' ``/log``: recorded in the check's log without changing its state (doctor)."""


def budget() -> float:
    """Seconds one ping may take with all its tries: ``$TRIGON_SYNC_PING_TIMEOUT`` within
    0.1-60, else 10 (an unreadable value keeps the default rather than failing cron)."""
    raw = os.environ.get(ENV_PING_TIMEOUT, "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_BUDGET
    except ValueError:
        return DEFAULT_BUDGET
    low, high = BUDGET_RANGE
    return seconds if low <= seconds <= high else DEFAULT_BUDGET


def signal_url(url: str, signal: str) -> str:
    """``url`` with ``/signal`` appended to its path (a query string stays at the end)."""
    parts = urlsplit(url.strip())
    if not signal:
        return urlunsplit(parts)
    path = parts.path.rstrip("/") + "/" + signal
    return urlunsplit(parts._replace(path=path))


def exit_signal(code: int) -> str:
    """The signal of a run that ended with ``code``: success, or the code itself."""
    return SUCCESS if code == 0 else str(code)


def shown(url: str) -> str:
    """How a ping URL appears in any message: its host only (the path is the secret)."""
    host = urlsplit(url.strip()).hostname or "?"
    return f"the monitor at {host}"


@dataclass(frozen=True)
class PingResult:
    """How one ping went; ``detail`` never holds the URL."""

    signal: str
    ok: bool
    detail: str
    seconds: float

    @property
    def name(self) -> str:
        """The signal as people say it (``start``, ``success``, ``exit 5``, ``log``)."""
        if self.signal == SUCCESS:
            return "success"
        return f"exit {self.signal}" if self.signal.isdigit() else self.signal


Send = Callable[[str, bytes, float], int]
"""POST ``body`` to a URL within a timeout; the status code (raises on a network error)."""


def _send(url: str, body: bytes, timeout: float) -> int:
    import httpx

    from trigon_sync.http.session import make_client

    with make_client("", timeout=httpx.Timeout(timeout)) as client:
        return client.post(url, content=body, headers={"User-Agent": "trigon-sync"}).status_code


def ping(
    url: str,
    signal: str,
    body: str = "",
    *,
    seconds: float | None = None,
    send: Send | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PingResult:
    """Send one signal, retrying a network error or 5xx, within ``seconds`` in all.

    The tries run on a daemon thread and the caller waits at most ``seconds`` for them: a
    monitor that accepts the connection and never answers (or answers a byte a second)
    costs the run that long and no longer.
    """
    limit = budget() if seconds is None else seconds
    started = time.monotonic()
    deadline = started + limit
    outcome: list[tuple[bool, str]] = []
    target = signal_url(url, signal)
    payload = redact.scrub(body).encode("utf-8")
    post = send or _send

    def attempts() -> None:
        delay = FIRST_RETRY_DELAY
        detail = "no answer"
        for attempt in range(ATTEMPTS):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                status = post(target, payload, left)
            except Exception as exc:  # any network failure is a reason to try again
                detail = redact.scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))
            else:
                if 200 <= status < 300:
                    outcome.append((True, f"answered {status}"))
                    return
                detail = f"answered {status}"
                if status < 500 and status != 429:
                    break  # a wrong URL stays wrong: do not retry
            if attempt + 1 < ATTEMPTS:
                sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay *= 2
        outcome.append((False, detail))

    worker = threading.Thread(target=attempts, name="trigon-sync-ping", daemon=True)
    worker.start()
    worker.join(limit)
    took = time.monotonic() - started
    if not outcome:
        return PingResult(signal, False, f"no answer within {limit:g} s", took)
    ok, detail = outcome[0]
    return PingResult(signal, ok, detail, took)
