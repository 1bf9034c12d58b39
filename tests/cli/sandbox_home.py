"""Set-up shared by the CLI tests that talk to the sandbox: config text, secrets, connect calls.

The same few steps (point config.toml at both sandbox servers, log in to Trigon and keep the
refresh token, keep the Uku key; or do it through `connect`/`connect-uku`) were copied into
each test module; one copy here keeps them in step with the CLI's options.
"""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import Result

from trigon_sync.cli.connections import trigon_wire
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    SANDBOX_UKU_KEY,
    Running,
)
from trigon_sync.store.secrets import UKU_API_KEY, Secret, SecretStore
from trigon_sync.trigon import TokenManager, login

Invoke = Callable[..., Result]


def sandbox_config(
    running: Running, *, token_store: str | None = None, settle_seconds: float | None = None
) -> str:
    """config.toml text for both sandbox servers, as `connect` and `connect-uku` would leave it.

    ``settle_seconds`` sets ``[uku] settle_seconds`` (default 30 s): a test whose run finds
    a create with a lost answer would otherwise wait that long on the real clock.
    """
    store_line = f'token_store = "{token_store}"\n' if token_store else ""
    settle_line = f"settle_seconds = {settle_seconds}\n" if settle_seconds is not None else ""
    return (
        f'[trigon]\nbase_url = "{running.trigon_url}"\nemail = "{SANDBOX_EMAIL}"\n'
        f"{store_line}\n"
        f'[uku]\nbase_url = "{running.uku_url}"\ncompany = "{SANDBOX_COMPANY}"\n'
        f"{settle_line}"
    )


def store_sandbox_secrets(running: Running, store: SecretStore) -> None:
    """Log in to the sandbox's Trigon and keep its refresh token and the Uku key in ``store``."""
    wire = trigon_wire(running.trigon_url)
    try:
        TokenManager(wire, store, email=SANDBOX_EMAIL).adopt(
            login(wire, SANDBOX_EMAIL, SANDBOX_PASSWORD)
        )
    finally:
        wire.close()
    store.set(UKU_API_KEY, Secret(SANDBOX_UKU_KEY))


def connect_trigon(
    cli: Invoke,
    running: Running,
    *extra: str,
    email: str = SANDBOX_EMAIL,
    password: str = SANDBOX_PASSWORD,
) -> Result:
    """`connect` to the sandbox's Trigon, the password on stdin; ``extra`` adds options."""
    return cli(
        "connect",
        "--email",
        email,
        "--password-stdin",
        "--trigon-url",
        running.trigon_url,
        *extra,
        stdin=password + "\n",
    )


def connect_uku(
    cli: Invoke,
    running: Running,
    *,
    company: str = SANDBOX_COMPANY,
    key: str = SANDBOX_UKU_KEY,
) -> Result:
    """`connect-uku` to the sandbox's Uku, the key on stdin (one newline added, as typed)."""
    return cli(
        "connect-uku",
        "--company",
        company,
        "--uku-url",
        running.uku_url,
        "--key-stdin",
        stdin=key + "\n",
    )


def confirm_all(cli: Invoke) -> Result:
    """``confirm --yes`` of the staged plan with the firms listed without View chosen too
    (``--include``), as an admin who wants them linked anyway."""
    import json

    rows = json.loads(cli("import-clients", "--json").stdout)
    blind = [
        row["registration_code"]
        for row in rows
        if "no_view_permission" in row["flags"] and row["action"] in ("create", "link")
    ]
    return cli("confirm", "--yes", *(arg for code in blind for arg in ("--include", code)))
