"""What the answer limits cost and save (issue 12): memory on a gzip bomb, time per request.

* Peak memory while a 64 KB gzip bomb (64 MB of zeros) is refused at the 32 MB limit by
  ``HttpSession`` (our bounded zlib decoding), beside httpx's own decoder reading the
  same stream (what the client did before).
* Time per request through ``HttpSession.send`` with a ~100 KB JSON page (streamed body,
  deadline and size checks, depth check), in-memory transport, no network.

    .venv/bin/python benchmarks/answer_limits_bench.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import time
import tracemalloc

import httpx

from trigon_sync.errors import AnswerRefused
from trigon_sync.http.pacer import RateLimitPacer
from trigon_sync.http.session import HttpSession, make_client


def bomb_response(bomb: bytes) -> httpx.Response:
    return httpx.Response(200, content=iter([bomb]), headers={"Content-Encoding": "gzip"})


def session(handler: httpx.MockTransport) -> HttpSession:
    client = make_client("http://bench.test", transport=handler)
    return HttpSession(client, service="Bench", pacer=RateLimitPacer(sleep=lambda _s: None))


def peak_mb(call) -> float:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    bomb = gzip.compress(b"0" * (64 * 2**20), compresslevel=9)
    s = session(httpx.MockTransport(lambda _r: bomb_response(bomb)))

    def ours() -> None:
        with contextlib.suppress(AnswerRefused):
            s.send("GET", "/x")

    def httpx_decoder() -> None:
        for _chunk in bomb_response(bomb).iter_bytes():
            pass

    print(f"gzip bomb: {len(bomb) / 1024:.0f} KB compressed, 64 MB inflated")
    print(f"  HttpSession (refused at 32 MB): peak {peak_mb(ours):6.1f} MB")
    print(f"  httpx iter_bytes (before)     : peak {peak_mb(httpx_decoder):6.1f} MB")

    page = json.dumps({"data": [{"id": i, "name": f"Firm {i} OÜ"} for i in range(2000)]})
    body = page.encode()
    s = session(httpx.MockTransport(lambda _r: httpx.Response(200, content=iter([body]))))
    started = time.perf_counter()
    for _ in range(args.requests):
        s.send("GET", "/firms")
    per = (time.perf_counter() - started) / args.requests * 1000
    print(f"{len(body) / 1024:.0f} KB JSON page: {per:.2f} ms per request ({args.requests} sent)")


if __name__ == "__main__":
    main()
