"""Announcing waits: what a request is waiting for, so no screen sits silent for a minute.

The HTTP layer waits on purpose in three places: the rate-limit pacer (a spent budget
until the window resets), the retry loop (a backoff or a 429's ``Retry-After``), and the
settle wait after a write whose answer was lost. Each calls :func:`announce` with a
:class:`Wait` *before* it sleeps; whoever shows progress (the CLI) subscribes with
:func:`listening` for as long as it has a display. Nothing is announced to nobody, and
domain code never prints: the listener decides what a person sees.

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

_lock = threading.Lock()
_listeners: list[Listener] = []


def announce(wait: Wait) -> None:
    """Tell every listener that ``wait`` starts now (no listener: nothing happens)."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
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
