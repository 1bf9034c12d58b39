"""The sandbox routes on the path as sent, still percent-encoded, so an id stays one id.

uvicorn and httpx's ASGI transport hand an app ``scope["path"]`` already percent-decoded:
``/firms/acme%2F6/payments/count`` arrives as ``/firms/acme/6/payments/count`` (no route,
404) and ``/firms/f%2532/...`` as ``/firms/f%32/...``. A server like that would read
another firm than the client meant, which is the bug the clients' encoding
(trigon_sync/http/url_path.py) exists to prevent; the sandbox must not re-create it.

:class:`RawPathRouting` puts the raw path back into ``scope["path"]`` before routing, and
the ``segment`` convertor decodes each matched id with the same module's
:func:`~trigon_sync.http.url_path.segment_value`, so a handler gets exactly the id the client
encoded: ``{firm_id:segment}``.
"""

from __future__ import annotations

from typing import ClassVar

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

from trigon_sync.http.url_path import path_segment, segment_value
from trigon_sync.sandbox.problems import ApiProblem


class SegmentConvertor(Convertor[str]):
    """One still-encoded path segment, decoded to the id it names."""

    regex: ClassVar[str] = "[^/]+"

    def convert(self, value: str) -> str:
        try:
            return segment_value(value)
        except UnicodeDecodeError:
            raise ApiProblem(404, "NOT_FOUND", "the path names no id: not UTF-8") from None

    def to_string(self, value: str) -> str:
        return path_segment(value)


register_url_convertor("segment", SegmentConvertor())


class RawPathRouting:
    """ASGI middleware: route on ``raw_path`` (as sent), not on the decoded ``path``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and isinstance(raw, bytes):
            # A request line is ASCII; anything else is kept byte for byte (latin-1).
            scope = {**scope, "path": raw.partition(b"?")[0].decode("latin-1")}
        await self.app(scope, receive, send)
