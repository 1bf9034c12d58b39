"""``connect-uku``: store the Uku API key and company id, once one call has proved them."""

from __future__ import annotations

from typing import Any

import typer

from trigon_sync.cli import output
from trigon_sync.cli.connect_inputs import (
    INTERACTIVE_POLICY,
    ask,
    checked_url,
    header_token,
    read_secret,
    store_kind,
    url_hint,
    usable_store,
)
from trigon_sync.cli.connections import make_uku_client
from trigon_sync.errors import UsageError
from trigon_sync.store.config_file import edit_config, load_config
from trigon_sync.store.secrets import UKU_API_KEY, Secret

CONNECT_UKU_EXAMPLE = (
    "Example: trigon-sync connect-uku --company 3f6c1a52-8e0b-4d7e-9a51-2c4b7d9e0f11"
    "  (then paste the API key)"
)


def connect_uku(
    key_stdin: bool = typer.Option(False, "--key-stdin", help="Read the API key from stdin."),
    company: str | None = typer.Option(
        None, "--company", help="The Uku company id (X-Uku-Company)."
    ),
    uku_url: str | None = typer.Option(
        None, "--uku-url", help="Uku API base URL (default: config or production)."
    ),
    token_store: str | None = typer.Option(
        None, "--token-store", help="'keyring' (default) or 'file'; shared with Trigon."
    ),
) -> None:
    """Store the Uku API key after checking it with a cheap authenticated call."""
    config = load_config()
    kind = store_kind(token_store, config)
    base_url = checked_url("uku", uku_url, config)
    store = usable_store(kind)
    company = ask(company or config.uku.company, "Uku company id", "--company").strip()
    if not header_token(company):
        raise UsageError(
            f"--company {company!r} is not an Uku company id",
            hint="copy the company id (a UUID) from Uku's API settings",
        )
    key_text = read_secret(from_stdin=key_stdin, prompt="Uku API key", option="--key-stdin")
    if not header_token(key_text.strip()):
        raise UsageError(
            "the Uku API key contains spaces, control or non-ASCII characters",
            hint="copy the key again from Uku's API settings",
        )
    key = Secret(key_text.strip())
    del key_text
    with make_uku_client(
        base_url, company, key, policy=INTERACTIVE_POLICY, hint=url_hint("--uku-url")
    ) as client:
        members = client.check()
    store.set(UKU_API_KEY, key)
    with edit_config() as raw:
        raw.setdefault("uku", {}).update({"company": company, "base_url": base_url})
        raw.setdefault("trigon", {})["token_store"] = kind
    output.stderr.print(
        f"Connected to Uku company {company} ({base_url}); {members} member(s) visible.",
        markup=False,
    )


def register(app: Any) -> None:
    """Add ``connect-uku`` to the root app (its entry in cli/app.py)."""
    app.command("connect-uku", epilog=CONNECT_UKU_EXAMPLE)(connect_uku)
