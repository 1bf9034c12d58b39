"""What one answer may cost: a total deadline, a body size, a JSON depth.

httpx's timeouts are per read, so a server trickling one byte a second never times out:
the body is streamed here and the deadline checked per chunk. Decompression is ours, not
httpx's, so no compressed chunk can expand past the size limit in memory (zlib's
``max_length``): a gzip bomb costs at most ``max_body_bytes``. JSON nested absurdly deep,
and JSON's ``NaN``/``Infinity`` extensions, are refused or treated as malformed.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_DEADLINE = 120.0
"""Seconds one attempt may take in total: connect, headers and the whole body."""
MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest answer body accepted, after decompression (a page of 200 objects is ~100 KB)."""
MAX_JSON_DEPTH = 64
"""Deepest JSON nesting accepted (the contracts need fewer than 8 levels)."""
DECODED_ENCODINGS = ("gzip", "x-gzip", "deflate")
_DECODE_STEP = 1024 * 1024  # most bytes one decompress call may produce: memory ~ the body
ACCEPT_ENCODING = "gzip, deflate"
"""What we ask for, and all we decode (bounded, in :meth:`HttpSession._read_body`)."""


@dataclass(frozen=True)
class AnswerLimits:
    """What one attempt may cost: time in total, bytes of body, levels of JSON."""

    deadline: float = DEFAULT_DEADLINE
    max_body_bytes: int = MAX_BODY_BYTES
    max_json_depth: int = MAX_JSON_DEPTH


MISSING = object()
"""What :func:`parse_json` returns for a body that is not valid JSON."""


class Refused(Exception):
    """Internal: an answer over a limit; ``what`` says which (HttpSession names the service)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def read_body(
    response: httpx.Response, limits: AnswerLimits, deadline: float, clock: Callable[[], float]
) -> bytes:
    """The decoded body, streamed: refused when too large, a timeout when too slow.

    Decompression is ours, not httpx's, so that no single compressed chunk can expand
    past the limit in memory (zlib's ``max_length``): a gzip bomb costs at most
    ``max_body_bytes``.
    """
    limit = limits.max_body_bytes
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise Refused(f"an answer of {int(declared)} bytes (limit {limit})")
    if response.is_stream_consumed:
        # An in-memory transport (tests, the in-process sandbox) handed over a body it
        # had already read and decoded: only its size is left to check.
        if len(response.content) > limit:
            raise Refused(f"an answer larger than {limit} bytes once decoded")
        return response.content
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        decoder = None
    elif encoding in DECODED_ENCODINGS:
        decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)  # gzip or zlib header
    else:
        raise Refused(f"an answer in an encoding we did not ask for ({encoding[:40]})")
    body = bytearray()
    for chunk in response.iter_raw():
        data = chunk
        while data:
            if decoder is None:
                body += data
                break
            try:
                step = min(_DECODE_STEP, limit + 1 - len(body))
                body += decoder.decompress(data, step)
            except zlib.error:
                raise Refused(f"an answer whose {encoding} data is corrupt") from None
            if len(body) > limit:
                break
            data = decoder.unconsumed_tail
        if len(body) > limit:
            raise Refused(f"an answer larger than {limit} bytes once decoded")
        if clock() > deadline:
            raise httpx.ReadTimeout(
                f"the answer took longer than {limits.deadline:g} s in total",
                request=response.request,
            )
    if decoder is not None:
        body += decoder.flush()
        if len(body) > limit:
            raise Refused(f"an answer larger than {limit} bytes once decoded")
    return bytes(body)


def parse_json(content: bytes, status: int, limits: AnswerLimits) -> Any:
    """The parsed body, None when empty, ``MISSING`` when not valid JSON."""
    if status == 204 or not content:
        return None
    try:
        body = json.loads(content, parse_constant=_no_constant)
    except RecursionError:
        raise Refused("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        return MISSING
    openers = content.count(b"[") + content.count(b"{")  # C-speed: most answers are tiny
    if openers > limits.max_json_depth and _deeper_than(body, limits.max_json_depth):
        raise Refused(f"JSON nested more than {limits.max_json_depth} levels deep")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels (level by level: no recursion)."""
    level: list[Any] = [value] if isinstance(value, dict | list) else []
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend([child for child in children if isinstance(child, dict | list)])
        level = below
        depth += 1
    return False
