"""`connect`, `connect-uku` and `disconnect` against the sandbox served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest

from tests.cli.sandbox_home import Invoke, connect_trigon, connect_uku
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    Running,
    generate_seed,
)
from trigon_sync.sandbox.generator import INACTIVE_EMAIL, REMOVED_EMAIL
from trigon_sync.store import paths
from trigon_sync.store.secrets import (
    SERVICE_NAME,
    TRIGON_REFRESH_TOKEN,
    UKU_API_KEY,
    keyring_account,
)


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(20, seed=11)


@pytest.fixture
def all_viewable(sandbox: Running) -> Running:
    """The sandbox with View granted on every firm for the admin."""
    for firm_id in sandbox.world.trigon.firms:
        sandbox.world.set_permission(firm_id, view=True, email=SANDBOX_EMAIL)
    return sandbox


def every_file_text(home: Path) -> str:
    """Everything trigon-sync wrote into its home: config, state, logs, token file."""
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace") for p in home.rglob("*") if p.is_file()
    )


def test_connect_stores_only_the_refresh_token(
    cli: Invoke, all_viewable: Running, isolated_home: Path
) -> None:
    """Good credentials: one secret (the refresh token) stored; no password or access token."""
    result = connect_trigon(cli, all_viewable, "--token-store", "file")
    assert result.exit_code == 0, result.output
    assert "20 firm(s) listed, 20 readable" in result.stdout
    tokens = tomllib.loads(paths.token_file().read_text(encoding="utf-8"))
    assert list(tokens["secrets"]) == [TRIGON_REFRESH_TOKEN]
    stored = tokens["secrets"][TRIGON_REFRESH_TOKEN]
    assert stored in all_viewable.world.trigon.refresh_tokens
    written = every_file_text(isolated_home)
    assert SANDBOX_PASSWORD not in written
    for access_token in all_viewable.world.trigon.access_tokens:
        assert access_token not in written
        assert access_token not in result.output
    assert SANDBOX_PASSWORD not in result.output
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert config["trigon"] == {
        "email": SANDBOX_EMAIL,
        "base_url": all_viewable.trigon_url,
        "token_store": "file",
    }


def test_the_token_file_note_follows_a_stored_connection_never_a_failed_one(
    cli: Invoke, all_viewable: Running
) -> None:
    """A wrong password stored nothing: its one line is the error, not a note about where
    tokens are kept; the note comes with the connection that was stored."""
    failed = connect_trigon(cli, all_viewable, "--token-store", "file", password="wrong")
    assert failed.exit_code == ExitCode.AUTH
    assert "tokens are kept" not in failed.stderr
    assert failed.stderr.lstrip().startswith("error:"), failed.stderr
    stored = connect_trigon(cli, all_viewable, "--token-store", "file")
    assert stored.exit_code == 0, stored.output
    said = " ".join(stored.stderr.split())
    assert said.index("Connected to Trigon") < said.index("note: tokens are kept in")


def test_connect_uses_the_keyring_by_default(
    cli: Invoke, all_viewable: Running, memory_keyring, isolated_home: Path
) -> None:
    """With a working keyring the refresh token is its only entry and no token file exists."""
    result = connect_trigon(cli, all_viewable)
    assert result.exit_code == 0, result.output
    assert list(memory_keyring.secrets) == [(SERVICE_NAME, keyring_account(TRIGON_REFRESH_TOKEN))]
    assert not paths.token_file().exists()
    assert SANDBOX_PASSWORD not in every_file_text(isolated_home)


def test_listed_but_not_viewable_firms_are_marked_and_named(cli: Invoke, sandbox: Running) -> None:
    """Firms without View are marked in the table and named in a warning; the connection is
    kept and the exit code is 0 (issue 13: status and doctor keep reporting them)."""
    hidden = [
        f
        for f in sandbox.world.trigon.firms.values()
        if not sandbox.world.trigon.user(SANDBOX_EMAIL).can_view(f.id)
    ]
    assert len(hidden) == 2
    result = connect_trigon(cli, sandbox)
    assert result.exit_code == 0, result.output
    assert "warning: the Trigon user can list but not read 2 firm(s)" in result.stderr
    assert "error:" not in result.stderr
    assert result.stdout.count("✗ no View") == 2
    assert "2 listed without View permission" in result.stdout
    assert all(f.id in result.stderr for f in hidden)
    assert "add List and View for these firms" in result.stderr


def test_no_list_permission_is_its_own_failure(cli: Invoke, sandbox: Running) -> None:
    """A role that lists no firm gets the PERMISSION exit code and says List is missing."""
    for firm_id in sandbox.world.trigon.firms:
        sandbox.world.set_permission(firm_id, list_=False, email=SANDBOX_EMAIL)
    result = connect_trigon(cli, sandbox)
    assert result.exit_code == ExitCode.PERMISSION
    assert "lacks the List permission" in result.stderr


@pytest.mark.parametrize(
    ("email", "password", "text"),
    [
        (SANDBOX_EMAIL, "wrong-password", "try logging into Trigon directly"),
        (INACTIVE_EMAIL, SANDBOX_PASSWORD, "is inactive in Trigon"),
        (REMOVED_EMAIL, SANDBOX_PASSWORD, "was removed from the Trigon organisation"),
    ],
)
def test_login_failures_each_have_their_message(
    cli: Invoke, sandbox: Running, email: str, password: str, text: str, isolated_home: Path
) -> None:
    """Wrong password, inactive and removed users: AUTH exit code, distinct messages."""
    result = connect_trigon(cli, sandbox, email=email, password=password)
    assert result.exit_code == ExitCode.AUTH
    assert text in result.stderr
    assert result.stderr.count("\n") == 1  # one line from the boundary
    assert password not in result.output
    assert not paths.token_file().exists()


def test_unreachable_trigon(cli: Invoke) -> None:
    """A closed port: 'Trigon is unreachable at <url>', the option to fix it, SERVICE exit code."""
    # Bound but never listening: connections are refused and no other test can take the port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}/v1"
        result = cli(
            "connect",
            "--email",
            SANDBOX_EMAIL,
            "--password-stdin",
            "--trigon-url",
            url,
            stdin=SANDBOX_PASSWORD + "\n",
        )
    assert result.exit_code == ExitCode.SERVICE
    assert f"Trigon is unreachable at {url}" in result.stderr
    assert "pass --trigon-url URL" in result.stderr  # nothing is in config.toml yet
    assert "config.toml" not in result.stderr


def test_no_keyring_backend_explains_and_file_store_works(
    cli: Invoke, all_viewable: Running
) -> None:
    """Without a keyring connect explains the options; --token-store file then works."""
    keyring.set_keyring(keyring.backends.fail.Keyring())
    refused = connect_trigon(cli, all_viewable)
    assert refused.exit_code == ExitCode.CONFIG
    assert "PYTHON_KEYRING_BACKEND" in refused.stderr
    assert "--token-store file" in refused.stderr
    assert not paths.config_file().exists()
    assert all_viewable.world.requests("trigon") == []  # nothing asked before the store works
    accepted = connect_trigon(cli, all_viewable, "--token-store", "file")
    assert accepted.exit_code == 0, accepted.output
    assert "less safe" in accepted.stderr
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert config["trigon"]["token_store"] == "file"
    check = cli("connect", "--check")
    assert check.exit_code == 0, check.output
    assert "token store: file" in check.stderr
    as_json = cli("connect", "--check", "--json")  # the cli fixture checks its schema
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["listed"] >= 1


def test_password_is_never_an_option(cli: Invoke) -> None:
    """There is no --password option, and without a terminal the prompt is refused."""
    assert cli("connect", "--password", "x").exit_code == ExitCode.USAGE
    result = cli("connect", "--email", SANDBOX_EMAIL, "--token-store", "file")
    assert result.exit_code == ExitCode.USAGE
    assert "--password-stdin" in result.stderr


def test_connect_uku_verifies_then_stores(
    cli: Invoke, sandbox: Running, memory_keyring, isolated_home: Path
) -> None:
    """A good key is checked with one call, stored in the keyring, company saved in config."""
    result = connect_uku(cli, sandbox)
    assert result.exit_code == 0, result.output
    assert memory_keyring.secrets == {(SERVICE_NAME, keyring_account(UKU_API_KEY)): SANDBOX_UKU_KEY}
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert config["uku"] == {"company": SANDBOX_COMPANY, "base_url": sandbox.uku_url}
    assert SANDBOX_UKU_KEY not in every_file_text(isolated_home)
    assert [r["method"] for r in sandbox.world.requests("uku")] == ["GET"]


@pytest.mark.parametrize(
    ("key", "company", "change", "code", "text"),
    [
        ("wrong-key", SANDBOX_COMPANY, {}, ExitCode.AUTH, "refused the API key"),
        (
            SANDBOX_UKU_KEY,
            "00000000-0000-4000-8000-000000000000",
            {},
            ExitCode.AUTH,
            "does not belong to company",
        ),
        (SANDBOX_UKU_KEY, SANDBOX_COMPANY, {"plan": "basic"}, ExitCode.PERMISSION, "no API access"),
    ],
)
def test_connect_uku_failures(
    cli: Invoke,
    sandbox: Running,
    memory_keyring,
    key: str,
    company: str,
    change: dict[str, str],
    code: ExitCode,
    text: str,
) -> None:
    """Bad key, foreign company and a plan without API access: distinct messages, no key kept."""
    sandbox.world.set_uku(**change)
    result = connect_uku(cli, sandbox, company=company, key=key)
    assert result.exit_code == code
    assert text in result.stderr
    assert memory_keyring.secrets == {}


def test_connect_uku_strips_the_whitespace_around_a_pasted_key(
    cli: Invoke, sandbox: Running, memory_keyring
) -> None:
    """A key pasted with a trailing space connects, and the stored key has no space."""
    result = connect_uku(cli, sandbox, company=f" {SANDBOX_COMPANY} ", key=f" {SANDBOX_UKU_KEY} \t")
    assert result.exit_code == 0, result.output
    assert memory_keyring.secrets == {(SERVICE_NAME, keyring_account(UKU_API_KEY)): SANDBOX_UKU_KEY}


@pytest.mark.parametrize(
    ("key", "company", "text"),
    [
        ("uku-sandbox-käy-0000", SANDBOX_COMPANY, "Uku API key"),
        ("uku-sandbox key-0000", SANDBOX_COMPANY, "Uku API key"),
        ("uku-sandbox\x01key-0000", SANDBOX_COMPANY, "Uku API key"),
        (SANDBOX_UKU_KEY, "Firmä OÜ", "--company 'Firmä OÜ'"),
    ],
)
def test_connect_uku_refuses_a_key_or_company_no_request_could_carry(
    cli: Invoke, sandbox: Running, memory_keyring, key: str, company: str, text: str
) -> None:
    """Characters an HTTP header cannot carry are a usage error naming the input, never the key."""
    result = connect_uku(cli, sandbox, company=company, key=key)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert text in result.stderr
    assert "unexpected" not in result.stderr
    assert key not in result.output and "käy" not in result.output
    assert memory_keyring.secrets == {}
    assert sandbox.world.requests("uku") == []


def test_disconnect_revokes_and_removes(cli: Invoke, all_viewable: Running, memory_keyring) -> None:
    """disconnect revokes the refresh token in Trigon and deletes it; --uku deletes the key."""
    assert connect_trigon(cli, all_viewable).exit_code == 0
    connect_uku(cli, all_viewable)
    token = memory_keyring.secrets[(SERVICE_NAME, keyring_account(TRIGON_REFRESH_TOKEN))]
    result = cli("disconnect")
    assert result.exit_code == 0, result.output
    assert "revoked and removed" in result.stdout
    assert all_viewable.world.trigon.refresh_tokens[token].state == "revoked"
    assert list(memory_keyring.secrets) == [(SERVICE_NAME, keyring_account(UKU_API_KEY))]
    assert cli("disconnect", "--uku").exit_code == 0
    assert memory_keyring.secrets == {}
    after = cli("connect", "--check")
    assert after.exit_code == ExitCode.AUTH
    assert "run `trigon-sync connect`" in after.stderr


def test_reconnect_revokes_the_previous_token(
    cli: Invoke, all_viewable: Running, memory_keyring
) -> None:
    """Connecting again replaces the stored token and revokes the old one."""
    assert connect_trigon(cli, all_viewable).exit_code == 0
    old = memory_keyring.secrets[(SERVICE_NAME, keyring_account(TRIGON_REFRESH_TOKEN))]
    assert connect_trigon(cli, all_viewable).exit_code == 0
    new = memory_keyring.secrets[(SERVICE_NAME, keyring_account(TRIGON_REFRESH_TOKEN))]
    assert new != old
    assert all_viewable.world.trigon.refresh_tokens[old].state == "revoked"


def _run_cli(
    home: Path, env: dict[str, str], *args: str, stdin: str
) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
    full_env.update(
        {
            paths.ENV_HOME: str(home),
            "XDG_DATA_HOME": str(home / "xdg-data"),
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "trigon_sync", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )


def test_real_process_without_keyring_then_with_a_selected_backend(
    all_viewable: Running, tmp_path: Path
) -> None:
    """As a real process: no backend -> explanation; PYTHON_KEYRING_BACKEND set -> it is used."""
    home = tmp_path / "proc-home"
    args = (
        "connect",
        "--email",
        SANDBOX_EMAIL,
        "--password-stdin",
        "--trigon-url",
        all_viewable.trigon_url,
    )
    none = _run_cli(
        home,
        {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
        *args,
        stdin=SANDBOX_PASSWORD + "\n",
    )
    assert none.returncode == ExitCode.CONFIG
    assert "no OS keyring" in none.stderr.replace("\n", " ")
    assert "--token-store file" in none.stderr
    chosen = _run_cli(
        home,
        {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"},
        *args,
        stdin=SANDBOX_PASSWORD + "\n",
    )
    assert chosen.returncode == 0, chosen.stderr
    keyring_files = list((home / "xdg-data").rglob("keyring_pass.cfg"))
    assert len(keyring_files) == 1
    assert "trigon_2drefresh_2dtoken" in keyring_files[0].read_text(encoding="utf-8")
    assert not (home / "tokens.toml").exists()
    assert SANDBOX_PASSWORD not in every_file_text(home)


@pytest.mark.parametrize("option", ["--password-stdin", "--key-stdin"])
def test_secret_from_stdin_that_is_not_utf8_is_a_usage_error(cli: Invoke, option: str) -> None:
    """Bytes that are not UTF-8 on stdin: one error line and exit 2, not 'unexpected error'."""
    command = (
        ["connect", "--email", SANDBOX_EMAIL]
        if option == "--password-stdin"
        else [
            "connect-uku",
            "--company",
            "c-1",
        ]
    )
    result = cli(*command, option, "--token-store", "file", stdin=b"p\xe4ss\xff\n")  # type: ignore[arg-type]  # bytes on stdin on purpose (not UTF-8)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.stderr.splitlines()[-1] == (
        f"error: {option}: stdin is not UTF-8 text — pipe the value in as UTF-8"
    )
