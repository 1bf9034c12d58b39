"""``disconnect``: remove the stored Trigon credentials (revoking a refresh token) or Uku key."""

from __future__ import annotations

from typing import Any

import typer

from trigon_sync.cli import output
from trigon_sync.cli.connect_inputs import INTERACTIVE_POLICY
from trigon_sync.cli.connections import secret_store, trigon_wire
from trigon_sync.settings.config import Config
from trigon_sync.store import pending_token
from trigon_sync.store.config_file import load_config
from trigon_sync.store.secrets import (
    TRIGON_API_KEY,
    TRIGON_ID_TOKEN,
    TRIGON_REFRESH_TOKEN,
    UKU_API_KEY,
    SecretStore,
)
from trigon_sync.trigon import revoke

DISCONNECT_EXAMPLE = "Example: trigon-sync disconnect        (or --uku, or --all)"


def disconnect(
    uku: bool = typer.Option(False, "--uku", help="Remove the Uku API key instead of Trigon."),
    everything: bool = typer.Option(False, "--all", help="Remove both connections."),
) -> None:
    """Remove the Trigon credentials (revoking a refresh token) or the Uku key from the store."""
    config = load_config()
    store = secret_store(config)
    done: list[str] = []
    if everything or not uku:
        done.append(_disconnect_trigon(config, store))
    if everything or uku:
        removed = store.delete(UKU_API_KEY)
        done.append(
            "Uku: API key removed (it stays valid in Uku; delete it there if unused)"
            if removed
            else "Uku: no API key was stored"
        )
    for line in done:
        output.stdout.print(line, markup=False)


def _disconnect_trigon(config: Config, store: SecretStore) -> str:
    removed_keys = [store.delete(name) for name in (TRIGON_ID_TOKEN, TRIGON_API_KEY)]
    keys_line = (
        "Trigon: ID token and API key removed (they stay valid in Trigon; delete them in "
        "Trigon's API settings if unused)"
    )
    token = store.get(TRIGON_REFRESH_TOKEN)
    if token is None:
        return keys_line if any(removed_keys) else "Trigon: no connection was stored"
    wire = trigon_wire(config.trigon.base_url, policy=INTERACTIVE_POLICY)
    try:
        revoked = revoke(wire, token)
    finally:
        wire.close()
    store.delete(TRIGON_REFRESH_TOKEN)
    pending_token.discard()  # a renewed token the store could not take goes with it
    if revoked:
        return "Trigon: refresh token revoked and removed"
    return (
        "Trigon: refresh token removed; Trigon could not be reached to revoke it "
        "(it stops working after 30 idle days)"
    )


def register(app: Any) -> None:
    """Add ``disconnect`` to the root app (its entry in cli/app.py)."""
    app.command("disconnect", epilog=DISCONNECT_EXAMPLE)(disconnect)
