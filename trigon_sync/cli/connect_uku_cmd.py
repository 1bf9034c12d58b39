"""``connect-uku``: store the Uku API key and company id, once one call has proved them.

Client links name Uku clients of the company they were made in. Connecting to another
company (a test company swapped for production, say) while links of the old one exist is
refused (exit 2), naming how many links it affects, unless ``--drop-links`` forgets them
(the firms are matched again by code by the next ``import-clients`` and ``confirm``):
otherwise the next monthly run would find its client ids naming unrelated clients.
"""

from __future__ import annotations

from typing import Any

import typer

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.connect_inputs import (
    INTERACTIVE_POLICY,
    ask,
    checked_url,
    file_store_note,
    header_token,
    read_secret,
    store_kind,
    url_hint,
    usable_store,
)
from trigon_sync.cli.connections import make_uku_client
from trigon_sync.clients.link_check import company_of, elsewhere
from trigon_sync.clients.links import drop_links_elsewhere
from trigon_sync.errors import UsageError
from trigon_sync.store.config_file import edit_config, load_config
from trigon_sync.store.secrets import UKU_API_KEY, Secret, SecretStore
from trigon_sync.store.state import ClientLink, load_state, locked_state

CONNECT_UKU_EXAMPLE = (
    "Example: trigon-sync connect-uku --company 3f6c1a52-8e0b-4d7e-9a51-2c4b7d9e0f11"
    "  (then paste the API key)"
)


def connect_uku(
    key_stdin: bool = typer.Option(False, "--key-stdin", help="Read the API key from stdin."),
    company: str | None = typer.Option(
        None, "--company", metavar="UUID", help="The Uku company id (X-Uku-Company)."
    ),
    uku_url: str | None = typer.Option(
        None, "--uku-url", help="Uku API base URL (default: config or production)."
    ),
    token_store: str | None = typer.Option(
        None,
        "--token-store",
        metavar="keyring|file",
        help="'keyring' (default) or 'file'; shared with Trigon.",
    ),
    drop_links: bool = typer.Option(
        False,
        "--drop-links",
        help="Connecting to another company than the clients were linked in: forget those "
        "links (the next import-clients and confirm match the firms again by code).",
    ),
) -> None:
    """Store the Uku API key after checking it with a cheap authenticated call.

    Refused (exit 2) when clients are linked in another Uku company, unless --drop-links.
    """
    config = load_config()
    kind = store_kind(token_store, config)
    base_url = checked_url("uku", uku_url, config)
    company = ask(company or config.uku.company, "Uku company id", "--company").strip()
    if not header_token(company):
        raise UsageError(
            f"--company {company!r} is not an Uku company id",
            hint="copy the company id (a UUID) from Uku's API settings",
        )
    assumed = config.uku.company
    if not drop_links:
        _refuse_other_company(elsewhere(load_state().links.values(), company, assumed), company)
    # After the refusal, before the key is asked: a store that cannot work fails first.
    store = usable_store(kind, "connect-uku")
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
    dropped: list[ClientLink] = []
    if drop_links:
        # Under the state lock, so no monthly run reads the links half-way.
        with locked_state() as session:
            dropped = drop_links_elsewhere(session.state, company, assumed, clock.now())
            if dropped:
                session.save()
            _save_connection(store, key, company, base_url, kind)
    else:
        _save_connection(store, key, company, base_url, kind)
    output.stderr.print(
        f"Connected to Uku company {company} ({base_url}); {members} member(s) visible.",
        markup=False,
    )
    file_store_note(store)
    if dropped:
        output.stderr.print(
            f"Forgot {len(dropped)} client link(s) made in another Uku company; run "
            "`trigon-sync import-clients` and `trigon-sync confirm` to link the firms in "
            f"{company} by registration code.",
            markup=False,
        )


def _save_connection(
    store: SecretStore, key: Secret, company: str, base_url: str, kind: str
) -> None:
    """The key in its store, the company and URL in config.toml."""
    store.set(UKU_API_KEY, key)
    with edit_config() as raw:
        raw.setdefault("uku", {}).update({"company": company, "base_url": base_url})
        raw.setdefault("trigon", {})["token_store"] = kind


def _refuse_other_company(links: list[ClientLink], company: str) -> None:
    """UsageError when ``links`` (made in another company than ``company``) exist."""
    if not links:
        return
    others = sorted({str(company_of(link, None) or "?") for link in links})
    raise UsageError(
        f"{len(links)} client link(s) were made in Uku company {', '.join(others)}, not "
        f"{company}: there their Uku client ids would name unrelated clients; nothing was "
        "changed",
        hint=f"add --drop-links to forget these {len(links)} link(s) (the next "
        "`trigon-sync import-clients` and `trigon-sync confirm` match the firms again by "
        f"registration code in {company}), or connect to {others[0]} again",
    )


def register(app: Any) -> None:
    """Add ``connect-uku`` to the root app (its entry in cli/app.py)."""
    app.command("connect-uku", epilog=CONNECT_UKU_EXAMPLE)(connect_uku)
