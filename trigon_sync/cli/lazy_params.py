"""Options left at their defaults are taken as they are, without loading pydantic.

Typer 0.29 checks every option's value with a pydantic ``TypeAdapter``, built the first
time the option is processed, and that includes an option not given on the command line
(``--home`` left out: None; ``--workers`` left out: 8). Importing pydantic and building
adapters costs more than the whole nightly no-op or ``status --json``, neither of which
gives such an option. So each option starts with a :class:`DefaultsAsGiven` in place of
Typer's coercion: None and an unchanged plain default (a str, int or float default of an
option typed so, without a ``parser=``) are what Typer's adapter would return anyway and
pass as they are; any other value builds Typer's own coercion, which from then on
handles that option exactly as Typer does.

Typer is pinned below 0.30 in pyproject.toml; tests/cli/test_one_entrance.py checks, for
every option of every command, that a default passes as Typer's own coercion returns it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import _TyperParameter

if TYPE_CHECKING:
    from typer import _click as click

_PLAIN = (str, int, float)


def unchanged(value: Any, param: _TyperParameter) -> bool:
    """Whether ``value`` is ``param``'s own plain default, which Typer's coercion would
    return unchanged (no parser, not an enum, a path or a file: exactly the declared type)."""
    descriptor = param.type_descriptor
    return (
        type(value) in _PLAIN
        and type(value) is descriptor.annotation
        and type(param.default) is type(value)
        and value == param.default
        and descriptor.parameter_info.parser is None
        and descriptor.file_annotation is None
    )


@dataclass(frozen=True)
class DefaultsAsGiven(RuntimeParam):
    """Typer's coercion for one option, built only for a value that needs it.

    ``RuntimeParam.coerce`` answers None itself (None, or ``()`` for a list option)."""

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: click.Context) -> Any:
        if unchanged(value, param):
            return value
        typer_own = build_runtime_param(param.type_descriptor)
        param._runtime_param = typer_own  # from now on Typer's, as if never replaced
        return typer_own._coerce_value(value, param=param, ctx=ctx)


def install(params: Iterable[click.Parameter]) -> None:
    """Give every Typer option and argument in ``params`` a :class:`DefaultsAsGiven` in
    place of Typer's coercion, unless Typer has built its own already."""
    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None:
            descriptor = param.type_descriptor
            param._runtime_param = DefaultsAsGiven(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )


def install_command(command: click.Command, ctx: click.Context) -> click.Command:
    """:func:`install` on the options of ``command`` and of its subcommands, ``--help``
    included: click makes that option on first use from the context's help option names
    and keeps it, so it is made here, from ``ctx`` (the root's; no command sets its own
    names, and a subcommand's context takes them from its parent's)."""
    help_option = command.get_help_option(ctx)
    install([*command.params, *([help_option] if help_option is not None else [])])
    for sub in getattr(command, "commands", {}).values():
        install_command(sub, ctx)
    return command
