"""The ``trigon-sync`` command: global options and the list of command groups.

Adding a command group is one import and one ``app.add_typer(...)`` (or
``app.command(...)(...)``) line at the bottom of this file; the error boundary
(``GuardedGroup``) covers it automatically.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from trigon_sync import __version__, paths
from trigon_sync.cli import (
    config_cmd,
    connect_cmd,
    import_cmd,
    mapfields_cmd,
    monthly_cmd,
    register_cmd,
    sandbox_cmd,
    schedule_cmd,
    state_cmd,
    status_cmd,
)
from trigon_sync.cli.boundary import VERBOSE_KEY, GuardedGroup

app = typer.Typer(
    name="trigon-sync",
    cls=GuardedGroup,
    help="Import Trigon firms into Uku and write the monthly counts Uku bills from.",
    epilog="Example: trigon-sync --home /srv/trigon schedule --count 6",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # the boundary reports errors; locals could hold tokens
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"trigon-sync {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None,
        "--home",
        metavar="DIR",
        help=f"Directory for config.toml, state.toml and logs (default: ${paths.ENV_HOME} "
        "or the user config directory).",
        file_okay=False,
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show a traceback when something unexpected fails."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_show_version,
        is_eager=True,
    ),
) -> None:
    """Import Trigon firms into Uku and write the monthly counts Uku bills from."""
    ctx.meta[VERBOSE_KEY] = verbose
    if home is not None:
        # Through the environment so child processes (sandbox, cron wrappers) agree.
        os.environ[paths.ENV_HOME] = str(home.expanduser().absolute())


app.command("schedule", epilog=schedule_cmd.EXAMPLE)(schedule_cmd.schedule)
app.command("run-monthly", epilog=monthly_cmd.EXAMPLE)(monthly_cmd.run_monthly)
app.add_typer(state_cmd.app, name="state")
app.add_typer(config_cmd.app, name="config")
app.add_typer(register_cmd.app, name="register")
app.add_typer(sandbox_cmd.app, name="sandbox")
connect_cmd.register(app)
import_cmd.register(app)
app.command("map-fields", epilog=mapfields_cmd.EXAMPLE)(mapfields_cmd.map_fields)
status_cmd.register(app)


def main() -> None:
    """Console-script entry point (``trigon-sync``)."""
    app(prog_name="trigon-sync")
