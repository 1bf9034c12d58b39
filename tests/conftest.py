"""Fixtures every test gets: an isolated home directory and an in-memory keyring.

No test may touch the developer's real config, state or OS keyring, so both are
redirected before each test (autouse).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import freezegun
import hypothesis
import keyring
import keyring.backend
import pytest

from tests.examples_budget import FAST_EXAMPLES, FAST_LANE
from trigon_sync import redact
from trigon_sync.business_register.source import ENV_URL as ENV_REGISTER_URL
from trigon_sync.store import paths

pytest_plugins = ["tests.sandbox_fixtures", "tests.kill_points"]

RAM_DISK = Path("/dev/shm")  # noqa: S108 - a tmpfs on Linux; the tests' own numbered temp root
RAM_DISK_NEEDS = 512 * 2**20
"""Free space the RAM disk must have to be used; else the ordinary temp directory."""


if FAST_LANE:  # README's fast lane: each property on a few examples (tests/examples_budget.py)
    hypothesis.settings.register_profile("fast-lane", max_examples=FAST_EXAMPLES)
    hypothesis.settings.load_profile("fast-lane")


def pytest_configure(config: pytest.Config) -> None:
    """Put every ``tmp_path`` on a RAM disk where there is one.

    The product fsyncs each journal line and every state write; on the machine's disk the
    suite made ~12,000 fsyncs at 2-4 ms each (more when other jobs write), a third of the
    fast lane's time, and none of it tells a test anything. On tmpfs the same calls run and
    return at once. ``--basetemp`` or ``PYTEST_DEBUG_TEMPROOT`` (pytest's own knob) win.
    """
    keep_compiled_modules()
    if config.option.basetemp or os.environ.get("PYTEST_DEBUG_TEMPROOT"):
        return
    if (
        RAM_DISK.is_dir()
        and os.access(RAM_DISK, os.W_OK | os.X_OK)
        # a container's /dev/shm may be 64 MB: a run writes ~10 MB and pytest keeps three
        and shutil.disk_usage(RAM_DISK).free >= RAM_DISK_NEEDS
    ):
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(RAM_DISK)


def keep_compiled_modules() -> None:
    """Let the ``python -m trigon_sync`` children reuse compiled modules, outside the tree.

    With ``PYTHONDONTWRITEBYTECODE`` set (as on the CI machine) nothing caches the editable
    install's bytecode, so every child compiled all ~90 modules again: 0.3 s of CPU of its
    ~0.65 s start, in each of the hundreds of children the suite spawns. A pycache prefix
    in the temp directory keeps the source tree as clean as the variable meant it to stay;
    the children inherit both settings from ``os.environ``. A prefix already set is kept.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    prefix = Path(tempfile.gettempdir()) / f"trigon-sync-tests-pycache-{os.getuid()}"
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    sys.pycache_prefix = str(prefix)  # this process and its xdist workers too
    sys.dont_write_bytecode = False


# freezegun patches every loaded module's clock, pytest's own timer included, so a frozen
# test reported a duration of decades; pytest's timer keeps the real clock.
freezegun.configure(extend_ignore_list=["_pytest.timing"])

OFFLINE_REGISTER_URL = "http://127.0.0.1:9/ettevotja_rekvisiidid__lihtandmed.csv.zip"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps secrets in a dict for the life of one test."""

    priority = 1  # type: ignore[assignment]  # keyring declares priority a classproperty

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        import keyring.errors

        if (service, username) not in self.secrets:
            raise keyring.errors.PasswordDeleteError(username)
        del self.secrets[(service, username)]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TRIGON_SYNC_HOME at a fresh directory for every test."""
    home = tmp_path / "home"
    monkeypatch.setenv(paths.ENV_HOME, str(home))
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    # `import-clients` downloads the register by default; tests never leave 127.0.0.1, so the
    # default download goes to a port nothing listens on (a test that wants one overrides it).
    monkeypatch.setenv(ENV_REGISTER_URL, OFFLINE_REGISTER_URL)
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Replace the OS keyring with an in-memory one for every test."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def forget_secrets() -> Iterator[None]:
    """Each test starts with no registered secret: a one-letter test secret ("v") left by
    an earlier test in the same worker would mask that letter in every later output."""
    redact.forget_all()
    yield
    redact.forget_all()


E2E_ROOM = Path(__file__).parent / "e2e"
ONE_WORKER_MODULES = frozenset(
    {
        "tests/e2e/test_security.py",
        "tests/api/test_busy_company.py",
        "tests/api/test_import_confirm.py",
    }
)
"""Modules whose tests share one expensive flow or set-up (a whole CLI flow per parameter,
a busy company's baseline runs, the 300-firm import seed checked and read once): xdist
must hand all of a module's tests to one worker, or each worker does it again."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the rooms: an ``e2e`` test lives in tests/e2e/ and every test there is ``e2e``,
    so ``-m "not e2e"`` (the README's fast lane) leaves out exactly tests/e2e/."""
    strays = [
        item.nodeid
        for item in items
        if (item.get_closest_marker("e2e") is not None) != item.path.is_relative_to(E2E_ROOM)
    ]
    if strays:
        raise pytest.UsageError(
            "e2e-marked tests belong in tests/e2e/ and only there: " + ", ".join(strays)
        )
    # The e2e flows take seconds each (real processes, real waits): started first, the two
    # xdist workers share them and finish on the short tests, instead of one worker picking
    # up a long flow last while the other idles (a stable sort keeps every other order).
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n 2`` (``--dist load``) hands tests out one at a time to whichever worker is free,
    the tests of :data:`ONE_WORKER_MODULES` as one unit (xdist's own ``xdist_group`` does not
    take effect under pytest 9: it renames items in a way pytest 9 no longer reads).
    """
    if config.getvalue("dist") != "load":
        return None  # an explicit --dist choice is kept
    from xdist.scheduler import LoadScopeScheduling

    class ByTest(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return ByTest(config, log)
