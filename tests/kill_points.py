"""Kill -9 at chosen points of a real CLI command, each command a fork of a warm process.

A *point* is one durable step a command takes, in the order it takes it:

* each SQL statement of the records database that is not a read (``BEGIN IMMEDIATE``,
  every ``INSERT``/``UPDATE``/``DELETE``, ``COMMIT``, the schema's statements), seen through
  SQLite's trace callback on every connection the command opens;
* each file renamed into place (``os.replace``: a state save, a file moved into the
  migrated folder);
* each write request to Uku (not GET), twice: before it is sent, and once its answer has
  been read (the write is committed in Uku and the command has not recorded it yet).

A point is named by its label and its number among the steps so labelled (:data:`Point`:
the 3rd ``send POST /api/v3/tasks``), so it is the same step in every run however the
run's worker threads interleave. Dying *at* a point means dying just before it, by the
process's own hand (``os.kill(os.getpid(), SIGKILL)``: nothing runs after it, no
``finally``, no flush), so "at the point after a COMMIT" is "the commit is durable and
nothing else happened". A counting run (``kill_at=None``) lists the steps of an unkilled
command; the tests draw their kill points from that list with a fixed seed (:func:`pick`),
so the points cover the command's real steps, not a hand-picked list.

Why a fork server: a ``python -m trigon_sync`` child spends ~0.7 s starting the interpreter
and importing the CLI before it does anything (more on a loaded machine); 40 killed
commands and 40 commands that complete them would spend a minute on that alone. Each
command here is an ``os.fork()`` of multiprocessing's fork server, a fresh single-threaded
interpreter that imported this module (hence the CLI and the modules ``report`` and
``run-monthly`` load) once: a command starts in milliseconds. The server never runs a
sandbox or any thread of the test process, so a child inherits no thread and no lock
(the sandbox's servers run in the test process; a child only talks HTTP to 127.0.0.1).
:func:`fork_server` stops the server when its tests are done, so nothing outlives them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing
import multiprocessing.forkserver
import os
import pkgutil
import random
import re
import signal
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import trigon_sync
import trigon_sync.cli.app
from trigon_sync.http.session import verified_tls

CHILD_TIMEOUT = 60.0
"""Seconds one forked command may take before the test kills it and fails."""

_WRITES = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|REPLACE|BEGIN|COMMIT|ROLLBACK|CREATE|DROP|ALTER"
    r"|PRAGMA\s+(journal_mode|user_version)\s*=)",
    re.IGNORECASE,
)
"""Statements that change the database file (connection settings and reads do not)."""
_NUMBER = re.compile(r"/\d+")


WARM = (
    "certifi",
    "concurrent.futures.thread",
    "encodings.idna",
    "encodings.utf_8_sig",
    "h11",
    "httpcore",
    "importlib.metadata",
    "importlib.readers",
    "pydantic",
    "queue",
    "rich._emoji_codes",
    "stringprep",
    "typer._adapters",
    "typer._click.decorators",
    "zipfile",
)
"""Modules a command imports only when it runs (the CLI loads lazily: httpx's transport,
Typer's option checks with pydantic, rich's tables), imported by the fork server."""


def warm() -> None:
    """Import, in the fork server, what the commands would import after they start: every
    module of the product but the sandbox (served by the test process) and ``__main__``,
    and :data:`WARM`; and what each process builds once: pydantic's list of plugins, the
    TLS context with the CA bundle. No thread, no connection, no file is left open."""
    for module in pkgutil.walk_packages(trigon_sync.__path__, "trigon_sync."):
        if not module.name.startswith(("trigon_sync.sandbox", "trigon_sync.__main__")):
            importlib.import_module(module.name)
    for name in WARM:
        with contextlib.suppress(ImportError):  # a private module of a newer version
            importlib.import_module(name)
    with contextlib.suppress(ImportError, AttributeError):
        importlib.import_module("pydantic.plugin._loader").get_plugins()
    verified_tls()  # the CA bundle, read once per process (http/session.py)
    assert threading.active_count() == 1, "a fork server must have no thread to hand down"


Point = tuple[str, int]
"""A kill point: a step's label and which of the steps so labelled (1 = the first). Named
so, a point means the same step in every run, however the run's threads interleave."""


class _Points:
    """Counts the points a forked command passes; dies at ``kill_at``; lists them when
    counting."""

    def __init__(self, kill_at: Point | None) -> None:
        self.kill_at = kill_at
        self.seen: list[str] = []
        self.counted: Counter[str] = Counter()
        self.lock = threading.Lock()  # the run's worker threads pass points too

    def tick(self, label: str) -> None:
        with self.lock:
            self.seen.append(label)
            self.counted[label] += 1
            if (label, self.counted[label]) == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        """Hook the three kinds of durable step (in the child only: it is thrown away)."""
        real_connect = sqlite3.connect
        real_replace = os.replace
        real_handle = httpx.HTTPTransport.handle_request

        last = [""]

        def on_statement(sql: str) -> None:
            # A statement whose triggers run is reported again for each of them: one step.
            if sql != last[0] and _WRITES.match(sql):
                self.tick("sql " + " ".join(sql.split()[:3]))
            last[0] = sql

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            con = real_connect(*args, **kwargs)
            con.set_trace_callback(on_statement)
            return con

        def replace(src: Any, dst: Any, **kwargs: Any) -> None:
            self.tick(f"replace {Path(os.fsdecode(dst)).name}")
            real_replace(src, dst, **kwargs)

        def handle_request(
            transport: httpx.HTTPTransport, request: httpx.Request
        ) -> httpx.Response:
            write = request.method != "GET" and request.url.path.startswith("/api/v3/")
            what = f"{request.method} {_NUMBER.sub('/N', request.url.path)}"
            if write:
                self.tick(f"send {what}")
            response = real_handle(transport, request)
            if write:
                response.read()  # the whole answer is here: Uku has committed the write
                self.tick(f"answer {what}")
            return response

        sqlite3.connect = connect  # type: ignore[assignment]
        os.replace = replace
        httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign, assignment]


def _command(
    argv: Sequence[str], env: Mapping[str, str], kill_at: Point | None, out: str, listing: str
) -> None:
    """A forked child: the CLI with ``argv`` in ``env``, its stdout and stderr into files
    (``out`` + ``.out``/``.err``), dying at point ``kill_at``; the points passed are written
    to ``listing`` when it ends by itself."""
    assert threading.active_count() == 1  # forked from a server without threads
    os.environ.clear()
    os.environ.update(env)
    for fd, suffix in ((1, ".out"), (2, ".err")):
        target = os.open(out + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    points = _Points(kill_at)
    points.install()
    sys.argv = ["trigon-sync", *argv]
    try:
        trigon_sync.cli.app.main()
    finally:
        Path(listing).write_text(json.dumps(points.seen), encoding="utf-8")


@dataclass(frozen=True)
class Done:
    """How a forked command ended: its exit code (``-9`` when killed), output and the
    points it passed (all of them when it was not killed)."""

    code: int
    stdout: str
    stderr: str
    points: list[str]


class ForkedCli:
    """Runs ``trigon-sync`` commands as forks of the warm fork server."""

    def __init__(self, context: multiprocessing.context.ForkServerContext, scratch: Path) -> None:
        self.context = context
        self.scratch = scratch
        self.runs = 0

    def run(self, *argv: str, env: Mapping[str, str], kill_at: Point | None = None) -> Done:
        self.runs += 1
        out = self.scratch / f"command-{self.runs}"
        listing = out.with_suffix(".points")
        process = self.context.Process(
            target=_command, args=(list(argv), dict(env), kill_at, str(out), str(listing))
        )
        process.start()
        process.join(CHILD_TIMEOUT)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise AssertionError(f"{' '.join(argv)} took over {CHILD_TIMEOUT} s")
        code = process.exitcode
        process.close()
        seen = json.loads(listing.read_text(encoding="utf-8")) if listing.exists() else []
        return Done(
            code,
            Path(f"{out}.out").read_text(encoding="utf-8"),
            Path(f"{out}.err").read_text(encoding="utf-8"),
            seen,
        )


@contextlib.contextmanager
def fork_server(scratch: Path) -> Iterator[ForkedCli]:
    """A fork server that has imported this module, for the block; stopped after it."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.fork_server_warm"])
    try:
        yield ForkedCli(context, scratch)
    finally:
        server = multiprocessing.forkserver._forkserver
        stop = getattr(server, "_stop", None)  # the server also ends with this process
        pid = getattr(server, "_forkserver_pid", None)
        if stop is not None and pid is not None:
            # Its children were all joined and it holds nothing but imports: ended at
            # once, rather than left to tear down a few hundred modules (seconds on a
            # loaded machine); then reaped.
            os.kill(pid, signal.SIGKILL)
            stop()


@pytest.fixture(scope="session")
def forked_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkedCli]:
    """The kill tests' fork server, started once per test process (a plugin of
    tests/conftest.py), stopped at the end of the session."""
    with fork_server(tmp_path_factory.mktemp("forked")) as cli:
        yield cli


def pick(labels: Sequence[str], n: int, seed: int, must: Sequence[str] = ()) -> list[Point]:
    """``n`` kill points drawn with ``seed`` from every step of a counting run (``labels``,
    in order), in that order: first one step of each label that starts with a prefix in
    ``must`` (kinds the test must meet), then the rest uniformly from the whole space."""
    draw = random.Random(seed)
    chosen: set[int] = set()
    for prefix in must:
        matching = [i for i, label in enumerate(labels) if label.startswith(prefix)]
        assert matching, f"no step {prefix!r} in {labels}"
        chosen.add(draw.choice(matching))
    rest = [i for i in range(len(labels)) if i not in chosen]
    chosen.update(draw.sample(rest, n - len(chosen)))
    return [(labels[i], labels[: i + 1].count(labels[i])) for i in sorted(chosen)]


def kill_seed() -> int:
    """The seed the kill points are drawn with: fixed in CI; ``TRIGON_SYNC_KILL_SEED=N``
    draws others locally."""
    return int(os.environ.get("TRIGON_SYNC_KILL_SEED", "24"))
