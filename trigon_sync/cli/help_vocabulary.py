"""One vocabulary in every command's ``--help``, applied once to every command.

Left to Typer, each option shows a placeholder of its Python type (``<str>``, ``<int
range>``, ``<float range>``) next to options that name theirs (``CODE``, ``DATE``), and
arguments come as ``{CLIENT}`` in the usage line and ``CLIENT <str>`` below it. The rules
here, which ``tests/cli/test_help_vocabulary.py`` checks on every command at 80 columns:

* a value's placeholder is an UPPERCASE word (``N``, ``NUMBER``, ``FILE``, or one the
  option names itself), or its allowed values spelled out (``keyring|file``);
* an argument is its UPPERCASE name, as in the usage line (``[NAME]`` when optional);
* an option that may be given several times says "repeatable";
* text is wrapped at spaces only, never inside a token: ``--mode api-key`` and
  ``YYYY-MM`` stay whole (click's wrapper also breaks after hyphens).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, get_args

from typer import _click as click
from typer.core import TyperArgument, TyperOption

if TYPE_CHECKING:
    from collections.abc import Sequence

_GLUE = "\u2011"
"""A non-breaking hyphen: stands in for ``-`` while click wraps, so it never breaks there."""
_SPACE = "\u00a0"
"""A no-break space: stands in for the spaces of a quoted value (``--title 'A {period}'``)."""
_QUOTED = re.compile(r"(?<=[=\s])'[^'\s][^']*'(?=[\s.,;)]|$)")


def _glue(text: str) -> str:
    text = _QUOTED.sub(lambda quoted: quoted.group().replace(" ", _SPACE), text)
    return text.replace("-", _GLUE)


def _unglue(text: str) -> str:
    return text.replace(_GLUE, "-").replace(_SPACE, " ")


class WholeTokenFormatter(click.HelpFormatter):
    """click's help formatter, but lines break at spaces only (hyphens are glued while
    the text is wrapped and given back when it is written)."""

    def write(self, string: str) -> None:
        super().write(_unglue(string))

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(_glue(prog), _glue(args), prefix)

    def write_text(self, text: str) -> None:
        super().write_text(_glue(text))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        super().write_dl([(_glue(a), _glue(b)) for a, b in rows], col_max, col_spacing)


class HelpContext(click.Context):
    """A context whose help is written by :class:`WholeTokenFormatter`."""

    formatter_class = WholeTokenFormatter


class PlainArgument(TyperArgument):
    """An argument shown as its UPPERCASE name, in the usage line and in the list."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name if self.nargs == 1 else f"{name}..."

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return None  # the name is the placeholder; "<str>" after it says nothing more


def apply(command: click.Command) -> click.Command:
    """Give ``command`` and its subcommands the one vocabulary (in place)."""
    command.context_class = HelpContext
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "VALUE").upper()
            param.__class__ = PlainArgument  # Typer builds its own; only the display changes
        elif isinstance(param, TyperOption):
            _option(param)
    for sub in getattr(command, "commands", {}).values():
        apply(sub)
    return command


def _option(option: TyperOption) -> None:
    if option.is_flag or option.count or option.hidden:
        return
    if option.metavar is None:
        option.metavar = placeholder(option)
    if option.multiple and "repeatable" not in (option.help or "").lower():
        option.help = f"{(option.help or '').rstrip()} Repeatable.".lstrip()


def placeholder(option: TyperOption) -> str:
    """The placeholder for an option that names none: its choices, else by its type,
    else the last word of its name (``--trigon-url`` -> ``URL``)."""
    described = option.type_descriptor
    if described.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in described.choices or ())
    annotation = described.annotation
    if described.is_list:
        annotation = (get_args(annotation) or (str,))[0]
    if annotation is int:
        return "N"
    if annotation is float:
        return "NUMBER"
    if annotation is dt.date:
        return "DATE"
    if described.is_path:
        return (
            "DIR"
            if described.parameter_info.dir_okay and not described.parameter_info.file_okay
            else "FILE"
        )
    longest = max(option.opts, key=len).lstrip("-")
    return longest.rsplit("-", 1)[-1].upper()
