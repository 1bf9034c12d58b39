"""An in-process transport for *synchronous* httpx clients talking to a sandbox app.

``httpx.ASGITransport`` only serves ``httpx.AsyncClient``; our API clients are synchronous
and called from thread pools. :class:`SyncASGITransport` runs the ASGI app on a private
event loop in a daemon thread and hands each request to it, so a plain ``httpx.Client``
(and many threads sharing it) talks to the app with no sockets. The client's read timeout
is honoured: a response slower than it raises ``httpx.ReadTimeout`` like a real socket
would (the slow request is cancelled), which is how the sandbox's ``timeout`` fault shows
in-process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import Any

import httpx

from trigon_sync.sandbox.pipeline import ConnectionDropped


class SyncASGITransport(httpx.BaseTransport):
    """``httpx.Client(transport=SyncASGITransport(app), base_url=...)``; close it when done."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sandbox-asgi", daemon=True
        )
        self._thread.start()
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise httpx.ConnectError("transport is closed", request=request)
        content = request.read()
        timeout = (request.extensions.get("timeout") or {}).get("read")
        future = asyncio.run_coroutine_threadsafe(self._send(request, content), self._loop)
        try:
            status, headers, body = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout(
                "sandbox answered later than the read timeout", request=request
            ) from None
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _send(
        self, request: httpx.Request, content: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        inner_request = httpx.Request(
            request.method, request.url, headers=request.headers, content=content
        )
        response = await self._inner.handle_async_request(inner_request)
        body = await response.aread()
        return response.status_code, list(response.headers.raw), body

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def cancel_pending() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_pending(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
