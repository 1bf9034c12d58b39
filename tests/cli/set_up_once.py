"""A sandbox world and a fully set-up home, made once per worker and copied into each test.

Most `run-monthly` tests start from the same place: config.toml pointing at both sandbox
servers, a Trigon login and the Uku key in the keyring, clients imported and confirmed.
Doing those steps through the CLI cost ~1 s per test (reading the seed, an import, a
confirm with its client creations in Uku). :func:`set_up_once` does them in the first test
that asks, keeps what they left, and gives every later test its own copy:

- the world: every store and log of :class:`SandboxWorld` (everything but its seed and
  lock) deep-copied from the state right after the set-up, into a new world served by its
  own new servers. The seed's frozen objects are shared, as a world fresh from the same
  :class:`Seed` shares them; everything the world changes is copied.
- the home: the directory copied whole (``shutil.copytree``, modes kept) into the test's
  own home, the servers' addresses in its files changed to the new servers'.
- the keyring: the set-up's entries, re-keyed from the set-up's home to the test's, and
  registered with the scrubber as a process that read them would have.
- the process: the records database's shared connection open on the copy, as the set-up's
  commands leave it.

So a test that changes its world, home or keyring changes only its own copy
(tests/cli/test_set_up_once.py proves both that and that a copy runs as a fresh set-up).
Refresh tokens copied this way last the seed's 30 days; access tokens are never kept in
a home, so each CLI call still renews its own.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trigon_sync import redact
from trigon_sync.sandbox import Running, SandboxWorld, run_sandbox
from trigon_sync.sandbox.runner import HOST
from trigon_sync.sandbox.seed import Seed
from trigon_sync.sandbox.seed_reader import parse_seed
from trigon_sync.store import records_db

Secrets = MutableMapping[tuple[str, str], str]
"""The in-memory keyring's entries: (service, username) -> secret."""

_READ: dict[str, Seed] = {}


def read_seed(document: Mapping[str, Any]) -> Seed:
    """``document`` checked and read into a :class:`Seed`, once per worker and content.

    Reading costs ~0.15 s of CPU for a 20-firm seed, the fingerprint ~3 ms; keyed by
    content, a document changed in place is read again, and worlds of one Seed share
    nothing (tests/api/test_world_seeds.py)."""
    key = _fingerprint(document)
    seed = _READ.get(key)
    if seed is None:
        seed = _READ[key] = parse_seed(document)
    return seed


def _fingerprint(document: Mapping[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _SetUp:
    """What one set-up left, kept away from every test: copy it, never hand it out."""

    seed: Seed
    world: dict[str, Any]
    home: Path
    home_was: str
    origins: dict[str, str]
    """Each server's origin (``http://127.0.0.1:port``) by its role: trigon, uku."""
    secrets: dict[tuple[str, str], str]


_DONE: dict[tuple[str, str], _SetUp] = {}


@contextlib.contextmanager
def set_up_once(
    name: str,
    document: Mapping[str, Any],
    set_up: Callable[[Running], None],
    *,
    home: Path,
    secrets: Secrets,
    keep_in: Callable[[], Path],
) -> Iterator[Running]:
    """Serve the world of ``document`` with ``home`` set up by ``set_up``, then stop it.

    ``name`` names the set-up (one per fixture). The first call per worker, name and seed
    runs ``set_up`` against the live servers in ``home`` and keeps a copy of the result
    in a directory ``keep_in`` makes; later calls copy that into ``home`` and ``secrets``
    (the test's keyring) and a new world instead.
    """
    seed = read_seed(document)
    key = (name, _fingerprint(document))
    done = _DONE.get(key)
    world = SandboxWorld(seed)
    if done is not None:
        with world.lock:
            vars(world).update(copy.deepcopy(done.world, _shared_with(seed)))
    with run_sandbox(world) as running:
        if done is None:
            set_up(running)
            _DONE[key] = _keep(running, home, secrets, keep_in())
        else:
            _give(done, running, home, secrets)
        yield running


def _shared_with(seed: Seed) -> dict[int, Any]:
    """A deepcopy memo holding the seed's frozen objects, so copies share them as a world
    fresh from ``seed`` does (copying ~1,500 records cost ten times the rest)."""
    trigon = seed.trigon
    frozen = [*trigon.firms, *trigon.records, *trigon.reporting_persons, *trigon.fixed_assets]
    frozen += [*trigon.users, seed]
    return {id(item): item for item in frozen}


def _origins(running: Running) -> dict[str, str]:
    return {
        "trigon": f"http://{HOST}:{running.trigon_port}",
        "uku": f"http://{HOST}:{running.uku_port}",
    }


def _keep(running: Running, home: Path, secrets: Secrets, into: Path) -> _SetUp:
    world = running.world
    with world.lock:
        state = {k: v for k, v in vars(world).items() if k not in ("seed", "lock")}
        kept_world = copy.deepcopy(state, _shared_with(world.seed))
    kept_home = into / "home"
    # The records database is open in WAL mode; its shared-memory index is rebuilt from
    # the WAL by the next connection, so only the database and the WAL are copied.
    shutil.copytree(home, kept_home, symlinks=True, ignore=shutil.ignore_patterns("*-shm"))
    origins = _origins(running)
    for path in _files(kept_home):
        data = path.read_bytes()
        if any(origin.encode() in data for origin in origins.values()):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                raise AssertionError(f"{path} names a server but is no text file") from None
    return _SetUp(
        seed=world.seed,
        world=kept_world,
        home=kept_home,
        home_was=str(home),
        origins=origins,
        secrets=dict(secrets),
    )


def _give(done: _SetUp, running: Running, home: Path, secrets: Secrets) -> None:
    shutil.copytree(done.home, home, symlinks=True, dirs_exist_ok=True)
    new = _origins(running)
    moved = {done.origins[role]: new[role] for role in new}
    pattern = re.compile("|".join(re.escape(origin) for origin in moved) + r"(?!\d)")
    for path in _files(home):
        data = path.read_bytes()
        if not any(origin.encode() in data for origin in moved):
            continue
        text = pattern.sub(lambda m: moved[m[0]], data.decode("utf-8"))
        path.write_bytes(text.encode("utf-8"))  # mode and owner of the copy stay
    for (service, username), value in done.secrets.items():
        secrets[(service, username.replace(done.home_was, str(home)))] = value
        redact.register(value)
    # The set-up's commands ran in this process and left its one records connection open
    # on the home's database; the copy's tests start from that too.
    records_db.shared()


def _files(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())
