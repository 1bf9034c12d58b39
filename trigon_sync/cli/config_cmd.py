"""``trigon-sync config check``: every problem in config.toml at once, or "ok"; ``config
init``: a commented config.toml to start from (the example that ships in the package)."""

from __future__ import annotations

import typer

from trigon_sync.cli import output
from trigon_sync.errors import ConfigError, ExitCode, Problem, UsageError
from trigon_sync.settings.config import MONTHLY_REQUIREMENTS, missing_for_monthly
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config

app = typer.Typer(
    help="Inspect config.toml.",
    no_args_is_help=True,
    epilog="Example: trigon-sync config init && trigon-sync config check",
)


@app.command("check", epilog="Example: trigon-sync --home /srv/trigon config check")
def check() -> None:
    """Validate config.toml and list every problem (exit 3), or print "ok"."""
    path = paths.config_file()
    if not path.exists():
        raise ConfigError(
            [Problem(str(path), "(file)", "not found")],
            hint="`trigon-sync config init` writes a commented one (config.example.toml) to "
            "fill in",
        )
    try:
        config = load_config(path)
    except ConfigError as err:
        for problem in err.problems:
            typer.echo(str(problem))
        typer.echo(f"{len(err.problems)} problem(s) found; see config.example.toml", err=True)
        raise typer.Exit(int(ExitCode.CONFIG)) from None
    typer.echo("ok")
    missing = missing_for_monthly(config)
    if missing:
        output.stdout.print("Not set yet (the monthly run needs them):")
        for key in missing:
            output.stdout.print(f"  {key}: {MONTHLY_REQUIREMENTS[key]}")


@app.command("init", epilog="Example: trigon-sync --home /srv/trigon-sync config init")
def init() -> None:
    """Write a commented config.toml into the home (never over an existing one)."""
    from trigon_sync.cli.setup_files import commented_config
    from trigon_sync.store import atomic

    path = paths.config_file()
    if path.exists() or path.is_symlink():
        raise UsageError(
            f"{path} already exists; nothing was written",
            hint="edit it, or move it away first; `trigon-sync config check` validates it",
        )
    atomic.write_private(path, commented_config())
    output.stdout.print(f"wrote {path}", markup=False, soft_wrap=True)
    output.stdout.print(
        "next: trigon-sync connect, connect-uku, import-clients, confirm and map-fields fill "
        "it in; `trigon-sync schedule --cron` (or --systemd) prints the nightly job",
        markup=False,
    )
