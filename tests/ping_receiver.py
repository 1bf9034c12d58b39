"""A Healthchecks-like ping receiver on 127.0.0.1 for the monitoring tests.

It records every request (method, path, body) and answers as told: ``ok`` (200 "OK"),
``error`` (500), or ``hang`` (accepts, never answers until the test ends).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PING_PATH = "/ping/6a1d3f0e-5b7c-4e2a-9f81-c0ffee5ec7e7"
"""The secret part of the test's ping URL: no output may contain it."""


@dataclass
class Receiver:
    url: str
    mode: str = "ok"
    seen: list[tuple[str, str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def paths(self) -> list[str]:
        return [path for _, path, _ in self.seen]

    def signals(self) -> list[str]:
        """What each request signalled: ``start``, ``success``, ``log`` or the exit code."""
        out = []
        for path in self.paths:
            rest = path.split("?")[0].removeprefix(PING_PATH).strip("/")
            out.append(rest or "success")
        return out


@contextmanager
def ping_receiver(mode: str = "ok") -> Iterator[Receiver]:
    """A receiver on a free 127.0.0.1 port; ``receiver.url`` is the ping URL to configure."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            receiver.seen.append((self.command, self.path, body))
            if receiver.mode == "hang":
                receiver.release.wait(30)
                return
            status = 500 if receiver.mode == "error" else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_POST = do_HEAD = _answer

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{PING_PATH}"
    receiver.mode = mode
    # serve_forever checks for shutdown every poll_interval (0.5 s by default): each test's
    # teardown waited out most of that; 0.02 s costs ~50 idle wake-ups a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
