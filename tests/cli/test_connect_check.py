"""`connect --check` refuses a mistyped token store instead of ignoring it."""

from __future__ import annotations

from typer.testing import CliRunner

from trigon_sync.cli.app import app


def test_check_with_an_unknown_token_store_is_a_usage_error():
    """--token-store cloud is named in one error line with exit code 2."""
    result = CliRunner().invoke(app, ["connect", "--check", "--token-store", "cloud"])
    assert result.exit_code == 2
    assert "--token-store must be 'keyring' or 'file', not 'cloud'" in result.output
