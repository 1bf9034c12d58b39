"""``trigon-sync config check``: every problem in config.toml at once, or "ok"."""

from __future__ import annotations

import typer

from trigon_sync.cli import output
from trigon_sync.errors import ConfigError, ExitCode, Problem
from trigon_sync.settings.config import MONTHLY_REQUIREMENTS, missing_for_monthly
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config

app = typer.Typer(
    help="Inspect config.toml.",
    no_args_is_help=True,
    epilog="Example: trigon-sync config check",
)


@app.command("check", epilog="Example: trigon-sync --home /srv/trigon config check")
def check() -> None:
    """Validate config.toml and list every problem (exit 3), or print "ok"."""
    path = paths.config_file()
    if not path.exists():
        raise ConfigError(
            [Problem(str(path), "(file)", "not found")],
            hint="copy config.example.toml there and fill it in",
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
