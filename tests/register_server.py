"""A misbehaving register download on 127.0.0.1: an endless body, or a trickle.

``endless``: a 200 with no length that never ends (zeros, as fast as the socket takes);
``trickle``: a 200 with no length, then one byte every ``gap`` seconds, for ever;
``declared``: a 200 announcing ``declared`` bytes (the headers only, then it hangs up).
The server stops (and every connection closes) when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Mode = Literal["endless", "trickle", "declared"]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nConnection: close\r\n"


@dataclass
class Served:
    url: str
    sent: int = 0
    """Body bytes sent, over all connections."""
    connections: int = 0


@contextlib.contextmanager
def misbehaving_register(
    mode: Mode, *, gap: float = 0.2, declared: int = 10**12
) -> Iterator[Served]:
    """Serve ``mode`` on a free 127.0.0.1 port until the block ends."""
    stop = threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    port = listener.getsockname()[1]
    served = Served(f"http://127.0.0.1:{port}/ettevotja_rekvisiidid__lihtandmed.csv.zip")

    def answer(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)  # the request; its content does not matter
            if mode == "declared":
                conn.sendall(HEAD + f"Content-Length: {declared}\r\n\r\n".encode())
                return
            conn.sendall(HEAD + b"\r\n")
            block = b"\0" * 65536 if mode == "endless" else b"P"
            while not stop.is_set():
                conn.sendall(block)
                served.sent += len(block)
                if mode == "trickle":
                    stop.wait(gap)

    def serve() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                served.connections += 1
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        stop.set()
        thread.join(2)
