"""Ids in URLs are data, never syntax: every path segment is percent-encoded here.

A Trigon firm id is an opaque string (monthly/task_identity.py: it may hold anything). Put into a
URL as plain text, ``f4/../f1`` is read as firm ``f1`` (httpx removes dot segments),
``f%32`` as firm ``f2`` (the server decodes ``%xx``), and ``acme/6`` as two segments. So
every API path is built with :func:`api_path`, which encodes each part as exactly one
segment, and the sandbox's routers match on the still-encoded path and decode each
segment with :func:`segment_value`, so what a client sends is what the server reads.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

_DOT = "%2E"


def path_segment(value: str | int) -> str:
    """``value`` as exactly one path segment that means only ``value``.

    Every character outside RFC 3986's unreserved set (ASCII letters and digits, ``-``,
    ``.``, ``_``, ``~``) is percent-encoded as UTF-8: ``/``, ``%``, ``?``, ``#``, space,
    ``:`` and any non-ASCII letter included. A segment of dots only (``.``, ``..``) would
    still be a dot segment that clients and servers remove or resolve, so its dots are
    encoded too. An empty value has no segment (``//`` names no id): it is refused.
    """
    text = str(value)
    if not text:
        raise ValueError("an empty id cannot be put into a URL path")
    encoded = quote(text, safe="", encoding="utf-8", errors="strict")
    if encoded.strip(".") == "":
        return _DOT * len(encoded)
    return encoded


def api_path(*parts: str | int) -> str:
    """An absolute API path with each part as one encoded segment:
    ``api_path("firms", firm_id, "payments", "count")`` -> ``/firms/<id>/payments/count``."""
    return "".join("/" + path_segment(part) for part in parts)


def segment_value(raw: str) -> str:
    """The id a still-encoded path segment names (the inverse of :func:`path_segment`).

    Strict UTF-8: a segment whose bytes are not UTF-8 names no id and raises ValueError,
    so it can never collide with another id the way a replacement character would.
    """
    return unquote(raw, encoding="utf-8", errors="strict")
