"""Advice that fits the case (issue 28, item 4): each message a new user met that pointed
the wrong way, asserted as it reads now, against the sandbox on 127.0.0.1."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
import termios
import time
import tomllib
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest

from tests.cli.sandbox_home import Invoke, connect_trigon
from trigon_sync.cli import output
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    Running,
    generate_seed,
)
from trigon_sync.store import paths


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(4, seed=5)


def closed_port_url(path: str) -> str:
    """A 127.0.0.1 URL on a port bound but never listening: connections are refused."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port_url.keep.append(probe)  # type: ignore[attr-defined]  # held for the test run
    return f"http://127.0.0.1:{probe.getsockname()[1]}{path}"


closed_port_url.keep = []  # type: ignore[attr-defined]


def test_connect_uku_without_a_keyring_names_connect_uku_in_one_line(cli: Invoke) -> None:
    """No OS keyring: the one error line says to add --token-store file to *connect-uku*
    (it sent the admin to `connect`), and nothing else is printed before it."""
    keyring.set_keyring(keyring.backends.fail.Keyring())
    result = cli("connect-uku", "--company", SANDBOX_COMPANY, "--key-stdin", stdin="k\n")
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no OS keyring")
    assert "add --token-store file to `trigon-sync connect-uku`" in result.stderr
    assert "`trigon-sync connect --token-store" not in result.stderr


def test_a_bad_url_option_is_blamed_on_the_option_not_on_config(cli: Invoke) -> None:
    """`--trigon-url ftp://…` with no config.toml: the error names --trigon-url (it blamed
    config.toml:trigon.base_url) and shows what an address looks like."""
    result = cli(
        "connect", "--email", SANDBOX_EMAIL, "--password-stdin", "--trigon-url", "ftp://x/v1"
    )
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("error: --trigon-url: not a web address: 'ftp://x/v1'")
    assert "config.toml" not in result.stderr
    assert "--trigon-url https://api.trigon.ee/v1" in result.stderr


def test_a_wrong_api_path_says_to_check_the_url(cli: Invoke, sandbox: Running) -> None:
    """A base URL ending in /v2: not just `HTTP 404 NOT_FOUND`, but the address asked and
    the hint to check the URL's path."""
    wrong = sandbox.trigon_url.replace("/v1", "/v2")
    result = connect_trigon(cli, sandbox, "--trigon-url", wrong)
    assert result.exit_code == ExitCode.SERVICE, result.output
    flat = " ".join(result.stderr.split())
    assert "HTTP 404" in flat
    assert f"check the Trigon URL: the address asked ({wrong}/auth/login) does not exist" in flat


def test_doctor_without_a_config_gives_the_real_reason_for_each_skip(cli: Invoke) -> None:
    """No config.toml: the skipped live checks say "no config file at …", not
    "config.toml is valid failed"."""
    result = cli("doctor")
    assert result.exit_code == ExitCode.CONFIG
    flat = " ".join(result.stdout.split())
    assert "is valid failed" not in flat
    assert f"skipped: no config file at {paths.config_file()}" in flat or (
        f"— no config file at {paths.config_file()}" in flat
    )


def test_status_with_a_config_typo_does_not_report_every_field_unmapped(cli: Invoke) -> None:
    """One typo in config.toml: the Fields line says the mapping is not known (it said
    `0 mapped; unmapped: <all 14>`, sending the admin to map-fields)."""
    paths.ensure_home()
    paths.config_file().write_text(
        '[summary]\ntask_titl = "x"\n\n[fields]\nsales_invoices_created = "Sales"\n',
        encoding="utf-8",
    )
    result = cli("status")
    fields = next(line for line in result.stdout.splitlines() if line.startswith("Fields"))
    assert "0 mapped" not in fields and "unmapped" not in fields
    assert "config.toml is invalid" in fields


def test_connect_asks_for_the_uku_url_and_never_fails_the_saved_trigon_connection(
    cli: Invoke, sandbox: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `connect` on a terminal, "Connect Uku now?" asks for the Uku URL; when Uku
    cannot be reached the Trigon connection stays saved, a warning says how to finish,
    and `connect` exits 0 (it exited 7 after trying the production Uku)."""
    monkeypatch.setattr(output, "is_interactive", lambda: True)
    dead_uku = closed_port_url("/api/v3")
    answers = [SANDBOX_PASSWORD, "y", dead_uku, SANDBOX_COMPANY, "uku-key"]
    result = connect_trigon(cli, sandbox, password="\n".join(answers))
    assert result.exit_code == 0, result.output
    assert "Uku API URL" in result.stderr
    flat = " ".join(result.stderr.split())
    assert f"warning: Uku is not connected: Uku is unreachable at {dead_uku}" in flat
    assert "The Trigon connection is saved; run `trigon-sync connect-uku" in flat
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert config["trigon"]["base_url"] == sandbox.trigon_url
    assert "uku" not in config


def test_connect_skips_uku_cleanly_when_told_no(
    cli: Invoke, sandbox: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answering no: one line on how to connect Uku later, exit 0, no request to Uku."""
    monkeypatch.setattr(output, "is_interactive", lambda: True)
    result = connect_trigon(cli, sandbox, password=f"{SANDBOX_PASSWORD}\nn")
    assert result.exit_code == 0, result.output
    assert "Uku skipped; run `trigon-sync connect-uku" in " ".join(result.stderr.split())
    assert sandbox.world.requests("uku") == []


def _read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 1024)
            except OSError:
                break
    return seen


def _wait_for_hidden_input(fd: int) -> None:
    """Until the terminal stops echoing: the prompt is written before getpass turns echo
    off (and flushes what was typed)."""
    deadline = time.monotonic() + 10
    while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_password_is_asked_on_the_terminal_when_stdout_is_a_file(
    sandbox: Running, tmp_path: Path
) -> None:
    """`connect … > out.txt` with a person at the terminal (stdin and stderr a tty): the
    password is asked there (it failed with "no terminal to ask for the password on")."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    env.update({paths.ENV_HOME: str(home), "COLUMNS": "80"})
    master, slave = pty.openpty()
    out = tmp_path / "out.txt"
    options = ["--trigon-url", sandbox.trigon_url, "--token-store", "file"]
    with out.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "trigon_sync", "connect", "--email", SANDBOX_EMAIL, *options],
            stdin=slave,
            stdout=stdout,
            stderr=slave,
            env=env,
            start_new_session=True,  # no controlling terminal: getpass uses stdin, the pty
        )
        os.close(slave)
        try:
            asked = _read_until(master, b"Trigon password", 30)
            assert b"Trigon password" in asked, asked
            _wait_for_hidden_input(master)  # typed earlier, getpass would flush it away
            os.write(master, SANDBOX_PASSWORD.encode() + b"\n")
            offered = _read_until(master, b"Connect it now?", 30)
            assert b"Connect it now? [Y/n]" in offered, offered  # the one prompt style
            os.write(master, b"n\n")
            rest = _read_until(master, b"Uku skipped", 30)
            assert process.wait(timeout=30) == 0, rest
        finally:
            if process.poll() is None:
                process.kill()
            os.close(master)
    assert "firm(s) listed" in out.read_text(encoding="utf-8")
