"""The request pipeline both sandbox apps share: faults, rate limits, request log, errors.

Order for every request outside ``/_sandbox/`` (admin paths skip all of it):

1. draw a :class:`FaultDecision` (arrival order, one seeded RNG per server, kept in the
   server's :class:`~trigon_sync.sandbox.server_state.ServerState`);
2. sleep ``latency_ms``;
3. take one token from the request's bucket — 429 ``RATE_LIMITED`` + ``Retry-After`` when empty;
4. a *before* fault answers instead of the handler (nothing is committed);
5. the handler runs (its response is buffered);
6. an *after* fault replaces or corrupts that response (the write is already committed);
7. ``X-RateLimit-*`` headers are added and the request is logged in the world.

A dropped connection sends the response head and part of the body, then raises
:class:`ConnectionDropped`: uvicorn aborts the socket (the client sees an incomplete
response) and ``httpx.ASGITransport`` re-raises it in-process — it subclasses
``httpx.RemoteProtocolError`` so clients classify it like the real thing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trigon_sync.sandbox.faults import BucketState, FaultDecision
from trigon_sync.sandbox.problems import ApiProblem
from trigon_sync.sandbox.raw_paths import RawPathRouting
from trigon_sync.sandbox.server_state import ServerState

ADMIN_PREFIX = "/_sandbox"


class ConnectionDropped(httpx.RemoteProtocolError):
    """The sandbox hung up mid-response on purpose (fault ``drop``)."""

    def __init__(self, message: str = "server disconnected mid-response (sandbox fault)") -> None:
        super().__init__(message)


class _QuietDrops(logging.Filter):
    """Keep uvicorn from printing a traceback for every deliberate drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def problem_response(problem: ApiProblem) -> JSONResponse:
    return JSONResponse(problem.body(), status_code=problem.status, headers=problem.headers)


async def handle_problem(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ApiProblem):  # pragma: no cover - registered for ApiProblem only
        raise exc
    return problem_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's routing 404/405 in the contract's envelope."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it only
        raise exc
    if exc.status_code == 405:
        return problem_response(
            ApiProblem(
                405,
                "METHOD_NOT_ALLOWED",
                f"{request.method} is not allowed here",
                headers=dict(exc.headers or {}),
            )
        )
    if exc.status_code == 404:
        return problem_response(ApiProblem(404, "NOT_FOUND", f"no such path {request.url.path}"))
    return problem_response(ApiProblem(exc.status_code, "ERROR", str(exc.detail)))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiProblem: handle_problem,
    HTTPException: handle_http_exception,
}


def make_app(
    server: ServerState,
    base: str,
    routes: Sequence[BaseRoute],
    admin: Mount,
    *,
    also: Sequence[str] = (),
) -> Starlette:
    """Serve ``routes`` under ``base`` behind the pipeline; ``admin`` (``/_sandbox``) skips it.

    ``also`` serves the same routes under further prefixes (Trigon's test environment).

    Both sandbox apps are assembled the same way so faults, limits and error envelopes
    cannot drift between them; ``app.state.sandbox`` is the server's :class:`ServerState`.
    Routing sees the path as sent, still percent-encoded (raw_paths.py): an id in a route
    is declared ``{name:segment}`` and reaches the handler decoded, as exactly one id.
    """
    app = Starlette(
        routes=[*(Mount(b, routes=list(routes)) for b in (base, *also)), admin],
        middleware=[Middleware(RawPathRouting), Middleware(Pipeline, server=server)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.sandbox = server
    return app


def request_state(request: Request) -> dict[str, Any]:
    """The per-request dict the pipeline reads after the handler (e.g. the write entry)."""
    return request.scope.setdefault("state", {})


@dataclass
class _Captured:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)


class Pipeline:
    """ASGI middleware applying faults, rate limits and logging around one sandbox app."""

    def __init__(self, app: ASGIApp, server: ServerState) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        server = self.server
        method, path = scope["method"], scope["path"]
        decision = server.faults.decide(method, path)
        cfg = server.config
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,
            "fault": decision.kind,
            "fault_seq": decision.seq,
            "phase": decision.phase if decision.kind else None,
            "tier": None,
            "time": server.clock(),
        }
        logged = False

        async def answer(message: Message) -> None:
            """Log the request as its answer starts, before the client can read it: a
            test that clears the log after a call must never see that call logged late."""
            nonlocal logged
            if not logged and message["type"] == "http.response.start":
                logged = True
                server.world.log_request(server.side, entry)
            await send(message)

        try:
            exempt = any(path.startswith(prefix) for prefix in cfg.exempt_paths)
            if cfg.echo_status and not exempt:
                entry["status"] = cfg.echo_status
                await self._echo(answer, scope)
                return
            if cfg.latency_ms:
                await asyncio.sleep(cfg.latency_ms / 1000)
            key, limit, tier = server.bucket(method, Headers(scope=scope))
            entry["tier"] = tier
            bucket = server.limiter.hit(
                key,
                limit,
                cfg.window_seconds,
                tier,
                whole_seconds=server.behaviour.epoch_rate_reset,
            )
            if not bucket.allowed:
                entry["status"] = 429
                await self._error(
                    answer,
                    429,
                    server.behaviour.rate_limit_code,
                    "rate limit exceeded",
                    {**server.limit_headers(bucket), "Retry-After": str(bucket.reset_seconds)},
                )
                return
            if decision.kind == "rate_limit":
                burst = BucketState(False, limit, 0, max(1, cfg.retry_after_seconds), tier)
                entry["status"] = 429
                await self._error(
                    answer,
                    429,
                    server.behaviour.rate_limit_code,
                    "rate limit exceeded (burst)",
                    {**server.limit_headers(burst), "Retry-After": str(cfg.retry_after_seconds)},
                )
                return
            if decision.kind in ("error", "drop", "timeout") and decision.phase == "before":
                await self._fault(answer, decision, bucket, entry, None)
                return
            scope.setdefault("state", {})
            captured = await self._capture(scope, receive)
            write = scope["state"].get("sandbox_write")
            if decision.kind in ("error", "drop", "timeout"):
                if write is not None:
                    with server.world.lock:
                        write["after_fault"] = decision.kind
                        if decision.kind == "timeout":  # the answer comes, only late
                            write["client_status"] = captured.status
                await self._fault(answer, decision, bucket, entry, captured)
                return
            body = bytes(captured.body)
            if decision.kind == "malformed" and body:
                body = body[: max(1, len(body) // 2)]
            entry["status"] = captured.status
            if write is not None:
                with server.world.lock:
                    write["client_status"] = captured.status
            await self._send(
                answer, captured.status, captured.headers, body, server.limit_headers(bucket)
            )
        except Exception:
            if entry["status"] is None and decision.kind != "drop":
                entry["status"] = 500
            raise
        finally:
            if not logged:  # dropped, or failed before any answer
                server.world.log_request(server.side, entry)

    async def _capture(self, scope: Scope, receive: Receive) -> _Captured:
        out = _Captured()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                out.status = message["status"]
                out.headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"
                ]
            elif message["type"] == "http.response.body":
                out.body.extend(message.get("body", b""))

        await self.app(scope, receive, capture)
        return out

    async def _send(
        self,
        send: Send,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        extra: dict[str, str],
    ) -> None:
        raw = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"date")]
        raw += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        raw.append((b"date", self.server.date_header()))
        if status not in (204, 304):
            raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send(
            {"type": "http.response.body", "body": body if status not in (204, 304) else b""}
        )

    async def _echo(self, send: Send, scope: Scope) -> None:
        """The ``echo_status`` fault: an error answer quoting every secret there is."""
        heard = [
            value.decode("latin-1")
            for key, value in scope.get("headers", [])
            if key.lower() in (b"authorization", b"x-api-key")
        ]
        quoted = " ".join([*heard, *self.server.world.every_secret()])
        status = self.server.config.echo_status
        body = {
            "error": {
                "code": f"ECHO {quoted}",
                "message": f"sandbox fault: echoing what it knows: {quoted}",
                "details": {"echo": quoted.split(), "nested": [{"again": quoted}]},
            }
        }
        await self._send(
            send, status, [(b"content-type", b"application/json")], json.dumps(body).encode(), {}
        )

    async def _error(
        self, send: Send, status: int, code: str, message: str, headers: dict[str, str]
    ) -> None:
        body = json.dumps(ApiProblem(status, code, message).body()).encode()
        await self._send(send, status, [(b"content-type", b"application/json")], body, headers)

    async def _fault(
        self,
        send: Send,
        decision: FaultDecision,
        bucket: BucketState,
        entry: dict[str, Any],
        captured: _Captured | None,
    ) -> None:
        cfg = self.server.config
        if decision.kind == "error":
            status = decision.status or 500
            entry["status"] = status
            await self._error(
                send,
                status,
                self.server.error_codes.get(status, "INTERNAL_ERROR"),
                "sandbox fault: the server failed",
                self.server.limit_headers(bucket),
            )
            return
        if decision.kind == "timeout":
            await asyncio.sleep(cfg.slow_seconds)
            if captured is None:
                entry["status"] = 503
                await self._error(
                    send,
                    503,
                    self.server.error_codes.get(503, "UNAVAILABLE"),
                    "sandbox fault: answered too late",
                    self.server.limit_headers(bucket),
                )
            else:
                entry["status"] = captured.status
                await self._send(
                    send,
                    captured.status,
                    captured.headers,
                    bytes(captured.body),
                    self.server.limit_headers(bucket),
                )
            return
        # drop: a head promising more body than ever arrives, then hang up
        entry["status"] = None
        await send(
            {
                "type": "http.response.start",
                "status": captured.status if captured else 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"4096"),
                    (b"date", self.server.date_header()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"data": ', "more_body": True})
        raise ConnectionDropped()
