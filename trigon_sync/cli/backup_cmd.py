"""``backup DIR``: a consistent copy of the home, safe to take while a run is writing."""

from __future__ import annotations

from pathlib import Path

import typer

from trigon_sync.cli import output
from trigon_sync.store import backup as home_backup
from trigon_sync.store import paths

EXAMPLE = (
    "Example: trigon-sync backup /var/backups/trigon-sync/$(date +%F)\n\n"
    "Restoring, and what a restore from an old backup means: docs/operations.md, "
    '"Backup and restore"'
)


def backup(
    directory: Path = typer.Argument(
        ..., metavar="DIR", help="A new or empty directory outside the home."
    ),
    include_secrets: bool = typer.Option(
        False,
        "--include-secrets",
        help="Also copy tokens.toml (the file token store): the copy then holds the "
        "Trigon token and the Uku key, so keep it as safe as the home.",
    ),
) -> None:
    """Copy the home (state, records database, config, installation id) into DIR, while a
    run may be writing; secrets only with --include-secrets."""
    done = home_backup.backup(directory, include_secrets=include_secrets)
    out = output.stdout
    out.print(f"Backed up {paths.home_dir()} into {done.target}:", markup=False)
    for name in done.copied:
        out.print(f"  {name}", markup=False)
    if not done.state_under_lock:
        out.print(
            "A run was in progress: state.toml and the records database were copied as that "
            "run had left them (its next steps resume from there after a restore).",
            markup=False,
        )
    if not include_secrets:
        out.print(
            "Secrets not copied (--include-secrets copies tokens.toml); after a restore "
            "run `trigon-sync connect` and `trigon-sync connect-uku` if they are missing.",
            markup=False,
        )
    elif done.secrets:
        out.print(
            "The copy holds this home's logins. A password login's refresh token is renewed "
            "on use: never use the copy while this home still runs, and in a drill delete "
            "the copy's tokens.toml before `connect` (it revokes the login it replaces) — "
            "docs/operations.md, Backup and restore, step 3.",
            markup=False,
        )
    else:
        out.print(
            "No secrets in the home (they are in the OS keyring, which a backup of the home "
            "does not hold): after a restore on another machine run `connect` and "
            "`connect-uku`.",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``backup`` to the root app (its entry in cli/app.py)."""
    app.command("backup", epilog=EXAMPLE)(backup)
