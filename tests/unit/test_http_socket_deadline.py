"""The total deadline over a real socket: a server trickling its body never holds a run."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from trigon_sync.errors import ServiceUnavailable
from trigon_sync.http.answer_limits import AnswerLimits
from trigon_sync.http.session import HttpSession, RetryPolicy, make_client


def trickling_server(stop: threading.Event) -> int:
    """127.0.0.1 server: a valid head promising 10 kB, then one byte every 20 ms."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)

    def serve() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 10000\r\n\r\n"
            )
            try:
                conn.sendall(head)
                while not stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(0.02)
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_a_trickling_body_ends_at_the_deadline_although_every_read_succeeds() -> None:
    """Each read gets a byte well within the 5 s read timeout; the 0.3 s deadline still ends it."""
    stop = threading.Event()
    port = trickling_server(stop)
    client = make_client(f"http://127.0.0.1:{port}", timeout=5.0)
    session = HttpSession(
        client,
        service="Uku",
        policy=RetryPolicy(max_attempts=2, base_delay=0.0, jitter=lambda: 1.0),
        limits=AnswerLimits(deadline=0.3),
    )
    started = time.monotonic()
    try:
        with pytest.raises(ServiceUnavailable, match="no answer in time, 2 attempt"):
            session.send("GET", "/clients")
    finally:
        stop.set()
        session.close()
    assert time.monotonic() - started < 3.0
