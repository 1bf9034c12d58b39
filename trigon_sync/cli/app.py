"""The ``trigon-sync`` command: global options and the list of command groups.

Adding a command group is one entry in ``COMMANDS`` at the bottom of this file; the error
boundary (``GuardedGroup``) covers it automatically.

This is the one entrance (the console script and ``python -m trigon_sync`` call
:func:`main`), so it stays light: cron starts ``run-monthly --quiet`` every night (nothing
is due on almost all of them) and monitoring calls ``status --json`` every few minutes.
Command modules are imported only when their command is looked up (``LazyGroup``), each
imports what only some of its paths need (httpx, rich, the planning modules) inside those
paths, options left at their defaults do not load pydantic (lazy_params.py), and the
consoles load rich on first use (output.py). Both calls cost about ``--version`` plus
reading the small state summary (docs/performance.md; tests/cli/test_one_entrance.py).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import __version__
from trigon_sync.cli import help_vocabulary, lazy_params
from trigon_sync.cli.boundary import VERBOSE_KEY, GuardedGroup
from trigon_sync.store import paths

if TYPE_CHECKING:
    # Typer vendors its own click, and the group Typer builds is made of those classes; the
    # real package is not a dependency (only uvicorn, in the sandbox extra, brings it).
    from typer import _click as click

Registrar = Callable[[typer.Typer, Any], None]
"""Registers one command module's commands on a Typer app (given the imported module)."""


def _command(name: str, function: str) -> Registrar:
    def register(target: typer.Typer, module: Any) -> None:
        target.command(name, epilog=module.EXAMPLE)(getattr(module, function))

    return register


def _group(name: str) -> Registrar:
    def register(target: typer.Typer, module: Any) -> None:
        target.add_typer(module.app, name=name)

    return register


def _module_register(target: typer.Typer, module: Any) -> None:
    module.register(target)


# command name -> (module under trigon_sync.cli, how that module registers it)
COMMANDS: dict[str, tuple[str, Registrar]] = {
    # in the order a new admin uses them (`--help` lists them so): set up, run, watch, fix
    "connect": ("connect_cmd", _module_register),
    "connect-uku": ("connect_uku_cmd", _module_register),
    "import-clients": ("import_cmd", _module_register),
    "confirm": ("import_cmd", _module_register),
    "map-fields": ("mapfields_cmd", _command("map-fields", "map_fields")),
    "run-monthly": ("monthly_cmd", _command("run-monthly", "run_monthly")),
    "status": ("status_cmd", _module_register),
    "doctor": ("status_cmd", _module_register),
    "schedule": ("schedule_cmd", _command("schedule", "schedule")),
    "history": ("status_cmd", _module_register),
    "explain": ("status_cmd", _module_register),
    "report": ("report_cmd", _module_register),
    "accept": ("accept_cmd", _command("accept", "accept_command")),
    "waive": ("waive_cmd", _command("waive", "waive_command")),
    "clients": ("clients_cmd", _module_register),
    "unlink": ("clients_cmd", _module_register),
    "ignore": ("clients_cmd", _module_register),
    "state": ("state_cmd", _group("state")),
    "backup": ("backup_cmd", _module_register),
    "config": ("config_cmd", _group("config")),
    "register": ("register_cmd", _group("register")),
    "disconnect": ("disconnect_cmd", _module_register),
    "sandbox": ("sandbox_cmd", _group("sandbox")),
}


class LazyGroup(GuardedGroup):
    """The root group: imports a command's module only when that command is looked up."""

    _loaded: dict[str, click.Command]

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        lazy_params.install(params)  # --home left out does not load pydantic (lazy_params.py)
        return params

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        loaded = self.__dict__.setdefault("_loaded", {})
        if cmd_name not in loaded:
            module_name, registrar = COMMANDS[cmd_name]
            module = importlib.import_module(f"trigon_sync.cli.{module_name}")
            holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
            registrar(holder, module)
            group = typer.main.get_group(holder)
            for name in group.list_commands(ctx):
                command = group.get_command(ctx, name)
                if command is not None:
                    loaded[name] = _plain_help(lazy_params.install_command(command, ctx), ctx)
        return loaded.get(cmd_name)


def _plain_help(command: click.Command, ctx: click.Context) -> click.Command:
    """Click's plain help for ``command`` and its subcommands: it wraps long option names
    and allowed values instead of cutting them off at 80 columns (Typer's rich panels
    did), and a flag shows no ``<bool>`` type."""
    # Typer's commands have rich_markup_mode; click's Command type does not declare it
    command.rich_markup_mode = None  # type: ignore[attr-defined]
    if command.short_help is None and command.help:
        # the whole first sentence in the command list, wrapped, not cut at 45 characters
        command.short_help = " ".join(inspect.cleandoc(command.help).split("\n\n")[0].split())
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub, ctx)
    return help_vocabulary.apply(command)


app = typer.Typer(
    name="trigon-sync",
    cls=LazyGroup,
    help="Import Trigon firms into Uku and write the monthly counts Uku bills from.",
    epilog="Example: trigon-sync --home /srv/trigon schedule --count 6",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    rich_markup_mode=None,  # plain help: nothing cut at 80 columns (see _plain_help)
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
    home: str | None = typer.Option(
        None,
        "--home",
        metavar="DIR",
        help=f"Directory for config.toml, state.toml and logs (default: ${paths.ENV_HOME} "
        "or the user config directory).",
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
        try:
            os.environ[paths.ENV_HOME] = paths.home_option(home)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--home'") from None


def _tolerate_narrow_locales() -> None:
    """A server on a Latin-1 locale (Debian's plain ``et_EE``) cannot encode "–" or "š":
    rather than fail on the first one, write it as a ``\\uXXXX`` escape, which inside a
    JSON string is the very same character."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
            reconfigure(errors="backslashreplace")


def main() -> None:
    """The one entrance: the ``trigon-sync`` console script and ``python -m trigon_sync``."""
    _tolerate_narrow_locales()
    app(prog_name="trigon-sync")
