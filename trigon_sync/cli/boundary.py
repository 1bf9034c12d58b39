"""The one place where exceptions become an exit code and one line on stderr.

Cron mails whatever a job prints, so an expected failure must be a single readable line
(what happened, what to do next) with its documented exit code, and never a traceback
that might show local variables holding tokens. Unexpected exceptions get one line too;
``--verbose`` adds the traceback (without locals) for a bug report.

Installed as the root command group's ``invoke``, so every command registered on the
app is covered without further wiring, including under ``typer.testing.CliRunner``.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from trigon_sync.cli import output
from trigon_sync.errors import ExitCode, TrigonSyncError

VERBOSE_KEY = "trigon_sync.verbose"
"""``ctx.meta`` key the root callback sets for ``--verbose``."""
INTERRUPTED = 130


def _one_line(text: str) -> str:
    return " ".join(text.split())


def report(exc: BaseException, *, verbose: bool) -> int:
    """Print the one-line message for ``exc`` (and a traceback if verbose); return the code."""
    if isinstance(exc, TrigonSyncError):
        typer.echo(f"error: {_one_line(str(exc))}", err=True)
        code = int(exc.exit_code)
    elif isinstance(exc, KeyboardInterrupt):
        typer.echo("error: interrupted; run the command again to continue", err=True)
        return INTERRUPTED
    else:
        detail = _one_line(f"{type(exc).__name__}: {exc}")[:300]
        typer.echo(
            f"error: unexpected error ({detail}); run again with --verbose and report it",
            err=True,
        )
        code = int(ExitCode.UNEXPECTED)
    if verbose:
        output.stderr.print_exception(show_locals=False)
    return code


class GuardedGroup(TyperGroup):
    """The root group: runs every command inside the error boundary."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # Typer's own exits and usage errors (exit 2) keep their behaviour
        except (TrigonSyncError, KeyboardInterrupt, Exception) as exc:
            code = report(exc, verbose=bool(ctx.meta.get(VERBOSE_KEY)))
        raise typer.Exit(code)
