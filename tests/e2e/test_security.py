"""Secrets stay secret: after the whole flow no password, token or API key leaks anywhere.

Checked against every value the sandbox ever issued (both sides' request logs give the
Trigon traffic): no file under the home but the token store holds one, no output does
(``--verbose`` and a forced crash included), files are 0600, the home 0700, and Trigon only
ever saw its auth POSTs and GETs.
"""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.flow import Flow, files_under, flow, secrets_of
from trigon_sync.store import paths

# tests/conftest.py (ONE_WORKER_MODULES) gives every test here to one xdist worker, so each
# connection mode's flow (after_flow) runs once.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["password", "api-key"])
def after_flow(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Flow, list[str]]]:
    """The full flow once per connection mode, --verbose on every step; all outputs kept.

    Two months: the second runs from the state the first left (a third re-proved that path),
    and the rerun after the access tokens expired renews them."""
    outputs: list[str] = []
    with flow(tmp_path_factory.mktemp("security") / "home", mode=request.param) as f:
        original = f.run

        def run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
            done = original("--verbose", *args, **kw)  # type: ignore[arg-type]  # the wrapped runner takes str arguments
            outputs.extend([done.stdout, done.stderr])
            return done

        f.run = run  # type: ignore[method-assign]  # wraps the flow's runner for this test
        f.setup()
        for month in range(2):
            assert f.run_month(month).returncode == 0
        for extra in (("status",), ("clients",), ("state", "show"), ("history",)):
            f.run(*extra)
        with pytest.MonkeyPatch.context() as mp:  # the whole flow worked in this mode
            mp.setenv(paths.ENV_HOME, str(f.home))
            f.assert_tasks(2)
        f.running.world.expire_access_tokens()
        f.run("run-monthly", "--today", "30.11.2024", "--rerun", "2024-11")
        yield f, outputs


def token_file_of(f: Flow) -> Path:
    return f.home / paths.token_file().relative_to(paths.home_dir())


def test_no_secret_in_any_file_but_the_token_store_nor_in_any_output(
    after_flow: tuple[Flow, list[str]],
) -> None:
    """Passwords, refresh and access tokens and the Uku key appear only in the token file."""
    f, outputs = after_flow
    secrets = secrets_of(f.running)
    assert len(secrets) > 4
    token_file = token_file_of(f)
    assert token_file.exists()
    checked = 0
    for path in files_under(f.home, skip=[token_file]):
        text = path.read_bytes().decode("utf-8", "replace")
        checked += 1
        for secret in secrets:
            assert secret not in text, f"a secret is in {path.relative_to(f.home)}"
    assert checked >= 3  # config, state, log at least
    for out in outputs:
        for secret in secrets:
            assert secret not in out


def test_a_crash_traceback_with_verbose_shows_no_secret(
    after_flow: tuple[Flow, list[str]],
) -> None:
    """An unexpected error under --verbose prints a traceback without locals or tokens."""
    f, _outputs = after_flow
    secrets = secrets_of(f.running)
    token_file = token_file_of(f)
    good = token_file.read_bytes()
    token_file.write_bytes(good[: len(good) // 2])  # a torn store: reading it fails
    try:
        crashed = f.run("--verbose", "run-monthly", "--today", "31.01.2025")
    finally:
        token_file.write_bytes(good)
    assert crashed.returncode != 0
    assert crashed.stderr.startswith("error:")
    for secret in secrets:
        assert secret not in crashed.stdout + crashed.stderr


def test_home_is_0700_and_every_file_0600(after_flow: tuple[Flow, list[str]]) -> None:
    """Nobody else on the machine can read the state, the log or the tokens."""
    f, _outputs = after_flow
    assert stat.S_IMODE(f.home.stat().st_mode) == 0o700
    for path in files_under(f.home):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.relative_to(f.home)
    for directory in (p for p in f.home.rglob("*") if p.is_dir()):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory.relative_to(f.home)


def test_trigon_saw_only_auth_posts_and_gets(after_flow: tuple[Flow, list[str]]) -> None:
    """The Trigon side is read-only: the request log holds GETs and the auth POSTs only."""
    f, _outputs = after_flow
    requests = f.running.world.requests("trigon")
    assert requests
    for entry in requests:
        method, path = entry["method"], entry["path"]
        assert method == "GET" or (method == "POST" and path.startswith("/v1/auth/")), entry
