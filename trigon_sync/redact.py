"""The one place that knows every secret this process holds, and scrubs text of them.

A server may quote what it was sent: an Uku error echoing the API key, a Trigon error
repeating a token. Text that came from a server is therefore scrubbed before it is
printed, logged or stored. Secrets are registered where they enter the process: every
:class:`trigon_sync.store.secrets.Secret` registers itself when it is made (token-store reads
and writes, the key and password read from a prompt or stdin, tokens from a login), so
a new kind of credential handled the same way is covered without touching this module.

Values are kept only in this process's memory and never written anywhere.
"""

from __future__ import annotations

import threading
from typing import Any

MASK = "********"

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()


def register(value: str) -> None:
    """Remember ``value`` as a secret for the life of the process (blank values ignored)."""
    global _ordered
    value = value.strip()
    if not value:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first, so a secret that contains another is masked whole.
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by a mask."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_data(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every string scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): scrub_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_data(v) for v in value]
    return value


def forget_all() -> None:
    """Test-only: drop every registered secret."""
    global _ordered
    with _lock:
        _secrets.clear()
        _ordered = ()
