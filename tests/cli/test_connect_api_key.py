"""`connect --mode api-key`: the ID token + API key way into Trigon, against the sandbox."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, connect_trigon
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import (
    SANDBOX_API_KEY,
    SANDBOX_EMAIL,
    SANDBOX_ID_TOKEN,
    SANDBOX_TEST_API_KEY,
    SANDBOX_TEST_ID_TOKEN,
    Running,
    generate_seed,
)
from trigon_sync.settings.config import TRIGON_ENVIRONMENT_URLS
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config
from trigon_sync.store.secrets import (
    SERVICE_NAME,
    TRIGON_API_KEY,
    TRIGON_ID_TOKEN,
    TRIGON_REFRESH_TOKEN,
    keyring_account,
)

SECRETS = (SANDBOX_API_KEY, SANDBOX_ID_TOKEN, SANDBOX_TEST_API_KEY, SANDBOX_TEST_ID_TOKEN)


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(20, seed=11)


@pytest.fixture
def all_viewable(sandbox: Running) -> Running:
    for firm_id in sandbox.world.trigon.firms:
        sandbox.world.set_permission(firm_id, view=True, email=SANDBOX_EMAIL)
    return sandbox


def connect_keys(
    cli: Invoke,
    url: str,
    *extra: str,
    id_token: str = SANDBOX_ID_TOKEN,
    api_key: str = SANDBOX_API_KEY,
) -> Any:
    return cli(
        "connect",
        "--mode",
        "api-key",
        "--credentials-stdin",
        "--trigon-url",
        url,
        *extra,
        stdin=f"{id_token}\n{api_key}\n",
    )


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def home_text(home: Path, *, skip: Path | None = None) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in home.rglob("*")
        if p.is_file() and p != skip
    )


def test_api_key_mode_connects_stores_both_values_and_never_shows_them(
    cli: Invoke, all_viewable: Running, memory_keyring, isolated_home: Path
) -> None:
    """The pair is tested with /me, kept in the keyring only, and config records the mode."""
    result = connect_keys(cli, all_viewable.trigon_url)
    assert result.exit_code == 0, result.output
    assert "Connected to Trigon as Sandbox Admin <admin@firm.ee>" in flat(result.stderr)
    assert "ID token and API key" in flat(result.stderr)
    assert "20 firm(s) listed, 20 readable" in result.stdout
    assert memory_keyring.secrets == {
        (SERVICE_NAME, keyring_account(TRIGON_ID_TOKEN)): SANDBOX_ID_TOKEN,
        (SERVICE_NAME, keyring_account(TRIGON_API_KEY)): SANDBOX_API_KEY,
    }
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert config["trigon"] == {
        "email": SANDBOX_EMAIL,
        "base_url": all_viewable.trigon_url,
        "token_store": "keyring",
        "auth": "api-key",
    }
    assert not any(s in result.output for s in SECRETS)
    assert not any(s in home_text(isolated_home) for s in SECRETS)
    # no login, no refresh: the only thing on the wire are GETs with the two headers
    assert all(r["method"] == "GET" for r in all_viewable.world.requests("trigon"))
    check = cli("connect", "--check")
    assert check.exit_code == 0, check.output
    assert "ID token and API key" in flat(check.stderr)


def test_file_store_keeps_the_pair_in_the_token_file_only(
    cli: Invoke, all_viewable: Running, isolated_home: Path
) -> None:
    """With --token-store file the values are in the 0600 token file and nowhere else."""
    result = connect_keys(cli, all_viewable.trigon_url, "--token-store", "file")
    assert result.exit_code == 0, result.output
    tokens = tomllib.loads(paths.token_file().read_text(encoding="utf-8"))
    assert tokens["secrets"] == {TRIGON_ID_TOKEN: SANDBOX_ID_TOKEN, TRIGON_API_KEY: SANDBOX_API_KEY}
    assert paths.token_file().stat().st_mode & 0o777 == 0o600
    assert not any(s in home_text(isolated_home, skip=paths.token_file()) for s in SECRETS)


@pytest.mark.parametrize(
    ("id_token", "api_key"),
    [(SANDBOX_ID_TOKEN, "tak-wrong"), ("tid-unknown", SANDBOX_API_KEY)],
)
def test_wrong_credentials_exit_auth_with_one_clear_line(
    cli: Invoke, sandbox: Running, memory_keyring, id_token: str, api_key: str
) -> None:
    """A wrong key or unknown ID token: exit 4, one line, nothing stored or shown."""
    result = connect_keys(cli, sandbox.trigon_url, id_token=id_token, api_key=api_key)
    assert result.exit_code == ExitCode.AUTH, result.output
    assert "Trigon refused the ID token and API key" in flat(result.stderr)
    assert "revoked or are wrong" in flat(result.stderr)
    assert result.stderr.count("\n") == 1
    assert api_key not in result.output and id_token not in result.output
    assert memory_keyring.secrets == {}
    assert not paths.config_file().exists()


def test_revoked_credentials_stop_every_command_with_exit_auth_and_no_refresh(
    cli: Invoke, all_viewable: Running
) -> None:
    """Revoked in Trigon after connecting: exit 4 'connect again', and no refresh attempted."""
    assert connect_keys(cli, all_viewable.trigon_url).exit_code == 0
    assert all_viewable.world.revoke_api_keys() == 2
    result = cli("connect", "--check")
    assert result.exit_code == ExitCode.AUTH, result.output
    assert "credentials were revoked or are wrong" in flat(result.stderr)
    assert "run `trigon-sync connect` again" in flat(result.stderr)
    assert all(r["method"] == "GET" for r in all_viewable.world.requests("trigon"))


def test_test_environment_takes_only_its_own_keys(cli: Invoke, all_viewable: Running) -> None:
    """A production key is refused by the test environment; the test key connects there."""
    test_url = all_viewable.trigon_test_url
    wrong = connect_keys(cli, test_url, "--environment", "test")
    assert wrong.exit_code == ExitCode.AUTH
    right = connect_keys(
        cli,
        test_url,
        "--environment",
        "test",
        id_token=SANDBOX_TEST_ID_TOKEN,
        api_key=SANDBOX_TEST_API_KEY,
    )
    assert right.exit_code == 0, right.output
    assert "test environment" in flat(right.stderr)
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert config["trigon"]["environment"] == "test"
    assert config["trigon"]["base_url"] == test_url


def test_environment_in_config_sets_the_url_and_a_configured_url_wins(
    cli: Invoke, all_viewable: Running, write_config: Any
) -> None:
    """[trigon] environment picks its URL; a base_url in config.toml still wins, with a note."""
    write_config('[trigon]\nenvironment = "test"\n')
    assert load_config().trigon.base_url == TRIGON_ENVIRONMENT_URLS["test"]
    write_config(f'[trigon]\nbase_url = "{all_viewable.trigon_test_url}"\n')
    result = cli(
        "connect",
        "--credentials-stdin",
        "--environment",
        "test",
        stdin=f"{SANDBOX_TEST_ID_TOKEN}\n{SANDBOX_TEST_API_KEY}\n",
    )
    assert result.exit_code == 0, result.output
    assert "wins over --environment test" in flat(result.stderr)
    config = load_config().trigon
    assert (config.base_url, config.environment, config.auth) == (
        all_viewable.trigon_test_url,
        "test",
        "api-key",
    )
    bad = cli("connect", "--credentials-stdin", "--environment", "staging", stdin="a\nb\n")
    assert bad.exit_code == ExitCode.USAGE
    assert "--environment must be 'production' or 'test'" in flat(bad.stderr)


def test_switching_modes_replaces_the_stored_credentials(
    cli: Invoke, all_viewable: Running, memory_keyring
) -> None:
    """password -> api-key revokes the refresh token; api-key -> password removes the pair."""
    assert connect_trigon(cli, all_viewable).exit_code == 0
    refresh = memory_keyring.secrets[(SERVICE_NAME, keyring_account(TRIGON_REFRESH_TOKEN))]
    assert connect_keys(cli, all_viewable.trigon_url).exit_code == 0
    assert all_viewable.world.trigon.refresh_tokens[refresh].state == "revoked"
    assert set(memory_keyring.secrets) == {
        (SERVICE_NAME, keyring_account(TRIGON_ID_TOKEN)),
        (SERVICE_NAME, keyring_account(TRIGON_API_KEY)),
    }
    back = connect_trigon(cli, all_viewable)
    assert back.exit_code == 0, back.output
    assert set(memory_keyring.secrets) == {(SERVICE_NAME, keyring_account(TRIGON_REFRESH_TOKEN))}
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert "auth" not in config["trigon"]


def test_disconnect_removes_the_pair(cli: Invoke, all_viewable: Running, memory_keyring) -> None:
    """disconnect deletes both values and says they stay valid in Trigon."""
    assert connect_keys(cli, all_viewable.trigon_url).exit_code == 0
    result = cli("disconnect")
    assert result.exit_code == 0, result.output
    assert "ID token and API key removed" in result.stdout
    assert memory_keyring.secrets == {}
    assert cli("connect", "--check").exit_code == ExitCode.AUTH


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("--mode", "api-key", "--password-stdin"), "belong to --mode password"),
        (("--mode", "secret"), "--mode must be 'password' or 'api-key'"),
        (("--password-stdin", "--credentials-stdin"), "either --password-stdin"),
        (("--mode", "api-key"), "--credentials-stdin"),  # no terminal to ask on
    ],
)
def test_bad_mode_options_are_usage_errors(
    cli: Invoke, args: tuple[str, ...], text: str, memory_keyring
) -> None:
    """Contradicting or unknown options fail before anything is asked or sent."""
    result = cli("connect", *args, stdin="")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert text in flat(result.stderr)


def test_there_is_no_option_for_the_secrets_themselves(cli: Invoke) -> None:
    """Neither value can be given on the command line (it would land in shell history)."""
    for option in ("--api-key", "--id-token", "--password"):
        assert cli("connect", option, "x").exit_code == ExitCode.USAGE


def test_on_a_terminal_the_mode_and_both_values_are_asked(
    cli: Invoke, all_viewable: Running, memory_keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No mode option at a terminal: asked, then two hidden prompts; nothing echoed."""
    from trigon_sync.cli import output

    monkeypatch.setattr(output, "is_interactive", lambda: True)
    result = cli(
        "connect",
        "--trigon-url",
        all_viewable.trigon_url,
        stdin=f"api-key\n{SANDBOX_ID_TOKEN}\n{SANDBOX_API_KEY}\nn\n",
    )
    assert result.exit_code == 0, result.output
    assert "Trigon ID token" in result.output and "Trigon API key" in result.output
    assert SANDBOX_ID_TOKEN not in result.output and SANDBOX_API_KEY not in result.output
    assert (SERVICE_NAME, keyring_account(TRIGON_API_KEY)) in memory_keyring.secrets


def test_doctor_checks_the_api_key_connection_like_a_login(
    cli: Invoke, sandbox: Running, memory_keyring
) -> None:
    """doctor's live Trigon checks run in api-key mode; revoked keys fail with the fix."""
    done = connect_keys(cli, sandbox.trigon_url)
    assert done.exit_code == 0 and "warning:" in done.output  # 2 firms without View
    healthy = flat(cli("doctor").stdout)
    assert "the ID token and API key were accepted; signed in as Sandbox Admin" in healthy
    sandbox.world.revoke_api_keys()
    revoked = cli("doctor")
    assert revoked.exit_code != 0
    assert "credentials were revoked or are wrong" in flat(revoked.stdout)
