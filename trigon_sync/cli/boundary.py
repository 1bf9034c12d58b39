"""The one place where exceptions become an exit code and one line on stderr.

Cron mails whatever a job prints, so an expected failure must be a single readable line
(what happened, what to do next) with its documented exit code, and never a traceback
that might show local variables holding tokens. Unexpected exceptions get one line too;
``--verbose`` adds the traceback (without locals) for a bug report.

Installed as the root command group's ``invoke``, so every command registered on the
app is covered without further wiring, including under ``typer.testing.CliRunner``.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from trigon_sync.cli import help_vocabulary, output
from trigon_sync.errors import ExitCode, TrigonSyncError
from trigon_sync.http import waits

if TYPE_CHECKING:
    from typer import _click as click  # the vendored click Typer's groups are built from

VERBOSE_KEY = "trigon_sync.verbose"
"""``ctx.meta`` key the root callback sets for ``--verbose``."""
INTERRUPTED = 130
READER_GONE = 141
"""The reader of stdout went away (``| head``): 128 + SIGPIPE, what a shell reports for
a tool that SIGPIPE stopped."""


def _one_line(text: str) -> str:
    """One line, scrubbed of every known secret and of terminal control sequences.

    Error messages quote servers (an Uku error may repeat the API key) and names from
    Trigon; this is the last stop before stderr and cron mail.
    """
    return output.one_line(text)


# A full disk or a read-only/foreign-owned home is the operator's to fix, not a bug.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def _disk_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return (
        f"cannot write{where}: {exc.strerror or exc}; free disk space or make the "
        "trigon-sync home writable, then run again (files already saved are unchanged)"
    )


def _say(message: str) -> None:
    """The ``error:`` line: wrapped at word boundaries on a terminal, one line in cron mail."""
    output.line(message)


def reader_gone() -> int:
    """Stop quietly when stdout's reader has gone (``report --format csv | head``).

    Not a failure of ours, so no ``error:`` line; stdout is pointed at /dev/null so the
    interpreter's last flush cannot raise the same error again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # no real file descriptor behind stdout (a test runner): nothing to flush
    return READER_GONE


def report(exc: BaseException, *, verbose: bool) -> int:
    """Print the one-line message for ``exc`` (and a traceback if verbose); return the code."""
    if isinstance(exc, BrokenPipeError):
        return reader_gone()
    if isinstance(exc, TrigonSyncError):
        _say(f"error: {_one_line(str(exc))}")
        code = int(exc.exit_code)
    elif isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
        _say(f"error: {_one_line(_disk_message(exc))}")
        code = int(ExitCode.STATE)
    elif isinstance(exc, KeyboardInterrupt):
        _say("error: interrupted; run the command again to continue")
        return INTERRUPTED
    else:
        detail = _one_line(f"{type(exc).__name__}: {exc}")[:300]
        _say(f"error: unexpected error ({detail}); run again with --verbose and report it")
        code = int(ExitCode.UNEXPECTED)
    if verbose:
        output.stderr.print_exception(show_locals=False)
    return code


def _usage_line(exc: typer.TyperException) -> str:
    """Typer's usage error as one line, pointing at the failing command's --help."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    where = f" — see `{ctx.command_path} --help`" if ctx is not None else ""
    return f"error: {_one_line(message)}{where}"


def _wait_line(wait: waits.Wait) -> None:
    """Every command names a deliberate wait on a terminal (a retry's backoff, a rate
    limit), so a person never looks at a silent screen; a pipe or cron mail gets nothing."""
    if output.stderr.is_terminal:
        output.line(f"… {wait.describe()}")


class GuardedGroup(TyperGroup):
    """The root group: runs every command inside the error boundary."""

    context_class = help_vocabulary.HelpContext  # the root's help wraps like every command's

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Typer's usage errors become one ``error:`` line too, not a boxed panel.

        Cron mails stderr; a bad option must read like every other failure and keep
        exit code 2 (USAGE).
        """
        standalone = kwargs.pop("standalone_mode", True)
        kwargs["standalone_mode"] = False
        if not standalone:
            return super().main(*args, **kwargs)
        try:
            rv = super().main(*args, **kwargs)
        except typer.Abort:  # Ctrl-C or end of input at a prompt: the user stopped it
            _say("error: aborted; nothing more was done")
            sys.exit(INTERRUPTED)
        except typer.TyperException as exc:
            if str(exc).strip():  # an empty one follows the help printed for a bare group
                _say(_usage_line(exc))
            sys.exit(getattr(exc, "exit_code", int(ExitCode.USAGE)))
        sys.exit(rv if isinstance(rv, int) else 0)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        """The root's ``--help`` is printed while its context is made: into ``| head``
        it stops like any command does (click alone would exit 1, our "bug" code)."""
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            sys.exit(reader_gone())

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with waits.listening(_wait_line):
                return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # Typer's own exits and usage errors (exit 2) keep their behaviour
        except (TrigonSyncError, KeyboardInterrupt, Exception) as exc:
            code = report(exc, verbose=bool(ctx.meta.get(VERBOSE_KEY)))
        raise typer.Exit(code)
