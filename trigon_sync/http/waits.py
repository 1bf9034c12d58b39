"""Announcing waits: what a request is waiting for, so no screen sits silent for a minute.

The HTTP layer waits on purpose in three places: the rate-limit pacer (a spent budget
until the window resets), the retry loop (a backoff or a 429's ``Retry-After``), and the
settle wait after a write whose answer was lost. Each calls :func:`announce` with a
:class:`Wait` *before* it sleeps; whoever shows progress (the CLI) subscribes with
:func:`listening` for as long as it has a display (the innermost one is told). Domain
code never prints: the listener decides what a person sees.

Listeners are called from the waiting thread (the monthly run's pool included), so they
must be quick and thread-safe; one that raises is ignored rather than failing a request.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Wait:
    """One wait about to start."""

    service: str
    """Who is waited for: "Trigon", "Uku" (or a tier name when no service is known)."""
    seconds: float
    """How long the wait lasts at most."""
    why: str
    """What it waits for, as a person reads it: "rate limit", "retry 2 of 5 after HTTP 503"."""

    def describe(self) -> str:
        """``waiting 41 s for Trigon's rate limit`` — the line a progress display shows."""
        return f"waiting {_duration(self.seconds)} for {self.service}: {self.why}"


Listener = Callable[[Wait], None]
Sleep = Callable[[float], None]

READS = frozenset({"GET", "HEAD"})
"""Requests a stopping command may give up while they wait: a read changes nothing."""


class Stopped(Exception):
    """A read's wait was cut short because the command is stopping (Ctrl-C, SIGTERM):
    the read was not sent. The monthly run counts its client as not started."""

    def __init__(self, service: str) -> None:
        super().__init__(f"stopped while waiting for {service}; the request was not sent")
        self.service = service


def pause(
    seconds: float, *, method: str, service: str, stop: threading.Event | None, sleep: Sleep
) -> None:
    """Wait ``seconds`` before a ``method`` request: a read raises :class:`Stopped` as soon as
    ``stop`` is set; a write always waits its time out (it is then sent or reported)."""
    if stop is None or method not in READS:
        sleep(seconds)
    elif stop.wait(seconds):
        raise Stopped(service)


_lock = threading.Lock()
_listeners: list[Listener] = []


def announce(wait: Wait) -> None:
    """Tell the innermost listener that ``wait`` starts now (none: nothing happens).

    Only the innermost: a command's own display (the monthly run's bar) takes over from
    the plain line every command prints, instead of both showing the same wait."""
    with _lock:
        listener = _listeners[-1] if _listeners else None
    if listener is not None:
        with contextlib.suppress(Exception):  # a display problem never fails a request
            listener(wait)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` for every wait announced inside the block."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    return f"{whole} s" if whole < 120 else f"{whole // 60} min {whole % 60} s"
