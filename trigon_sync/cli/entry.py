"""The ``trigon-sync`` console script: the two calls made all day long, answered first.

Cron starts ``run-monthly --quiet`` every night (nothing is due on almost all of them)
and monitoring calls ``status --json`` every few minutes. Loading the CLI framework
(Typer, which brings click and pydantic) and rich cost more than the answers: 0.2 s of
a 0.35 s no-op. So this module recognises exactly these calls, ::

    trigon-sync [--home DIR] [-v] run-monthly [--quiet | -q] [--today DATE]
    trigon-sync [--home DIR] [-v] status --json

and answers them with the functions the commands themselves call (monthly/gate.py for
the night's checks and the timeline, health/status.py for the report, json_text.py for the
document, monthly/log_file.py for the log line), without importing Typer or rich. Nothing here
decides anything: it only runs those functions in the commands' order and writes what
they return as the commands would.

Everything else goes to the full app (app.py) untouched, and so does a recognised call
as soon as it is anything but the plain answer: a period due, any error, a date or
option the app would refuse. The full app then makes the call from the start and says
what it always says; nothing was printed or written before it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

COMMANDS = ("run-monthly", "status")


@dataclass(frozen=True)
class Call:
    """A command line this module answers itself."""

    command: str
    home: str | None = None
    today: str | None = None
    quiet: bool = False
    verbose: bool = False


def _value(arg: str, option: str, following: str | None) -> tuple[str | None, int]:
    """The value of ``option`` given as ``arg`` (``--x=V`` or ``--x V``) and the tokens used;
    (None, 0) when ``arg`` is not that option or the value is one to leave to the app."""
    if arg.startswith(f"{option}="):
        value, used = arg[len(option) + 1 :], 1
    elif arg == option and following is not None:
        value, used = following, 2
    else:
        return None, 0
    return (value, used) if value and not value.startswith("-") else (None, 0)


def recognise(argv: list[str]) -> Call | None:
    """The call ``argv`` makes if it is one answered here, else None (the app's business)."""
    home: str | None = None
    verbose = False
    index = 0
    while index < len(argv) and argv[index] not in COMMANDS:
        arg = argv[index]
        following = argv[index + 1] if index + 1 < len(argv) else None
        value, used = _value(arg, "--home", following)
        if value is not None:
            home = value
        elif arg in ("-v", "--verbose"):  # only adds a traceback to an error
            verbose, used = True, 1
        else:
            return None
        index += used
    if index == len(argv):
        return None
    command, rest = argv[index], argv[index + 1 :]
    if command == "status":
        return Call("status", home, verbose=verbose) if rest == ["--json"] else None
    today: str | None = None
    quiet = False
    index = 0
    while index < len(rest):
        arg = rest[index]
        following = rest[index + 1] if index + 1 < len(rest) else None
        value, used = _value(arg, "--today", following)
        if value is not None:
            today = value
        elif arg in ("--quiet", "-q"):
            quiet, used = True, 1
        else:
            return None
        index += used
    return Call("run-monthly", home, today, quiet, verbose)


def _run_monthly(call: Call) -> tuple[str | None, int] | None:
    """A night with nothing due, exactly as cli/monthly_cmd.py ends it; None for any other."""
    from trigon_sync import clock
    from trigon_sync.dates import parse_date
    from trigon_sync.monthly import gate as monthly_gate
    from trigon_sync.monthly import log_file as run_log

    now = clock.now()
    day = parse_date(call.today) if call.today is not None else now.date()
    night = monthly_gate.start_night(day, now)
    schedule = night.schedule(day)
    if schedule.due or night.config.monitoring.enabled:  # pings and metrics: the command's
        return None
    text = None if call.quiet else monthly_gate.nothing_due_text(schedule)
    if not writable(text):
        return None
    # The command prints, then logs; a log that cannot be written ends in its error, so
    # here the log goes first, and such a failure leaves the whole night to the command.
    run_log.append(monthly_gate.nothing_due_log(day, schedule))
    return text, 0


def writable(text: str | None) -> bool:
    """Whether ``text`` can be written to stdout as it is: there is a stdout, and its
    encoding can carry every character (an ASCII or Latin-1 locale cannot carry "–").
    Otherwise the app makes the call: it knows how to write to such a stream."""
    if text is None:
        return True
    if sys.stdout is None:
        return False
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _status() -> tuple[str | None, int] | None:
    """``status --json`` as cli/status_cmd.py prints it, and its exit code."""
    from trigon_sync import clock
    from trigon_sync.cli import json_text
    from trigon_sync.health.status import status

    now = clock.now()
    report = status(now.date(), now=now)
    text = json_text.document(report.to_json())
    return (text, int(report.exit_code)) if writable(text) else None


def answer(call: Call) -> tuple[str | None, int] | None:
    """What to print and the exit code, or None: the full app must make this call.

    ``--home`` is applied as the app applies it (through the environment), and undone
    when the call is left to the app, which applies it again itself.
    """
    from trigon_sync.store import paths

    saved = os.environ.get(paths.ENV_HOME)
    answered: tuple[str | None, int] | None = None
    try:
        if call.home is not None:  # a value the app refuses (ValueError) is the app's to say
            os.environ[paths.ENV_HOME] = paths.home_option(call.home)
        answered = _run_monthly(call) if call.command == "run-monthly" else _status()
    except Exception:  # any error at all: the app makes the call again and reports it
        answered = None
    if answered is None:
        if saved is None:
            os.environ.pop(paths.ENV_HOME, None)
        else:
            os.environ[paths.ENV_HOME] = saved
    return answered


def _tolerate_narrow_locales() -> None:
    """A server on a Latin-1 locale (Debian's plain ``et_EE``) cannot encode "–" or "š":
    rather than fail on the first one, write it as a ``\\uXXXX`` escape, which inside a
    JSON string is the very same character."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (stream.encoding or "").lower().replace("-", "") != "utf8":
            reconfigure(errors="backslashreplace")


def main() -> None:
    """Console-script entry point (``trigon-sync``, ``python -m trigon_sync``)."""
    _tolerate_narrow_locales()
    call = recognise(sys.argv[1:])
    answered = None
    if call is not None:
        try:
            answered = answer(call)
        except KeyboardInterrupt as exc:  # the boundary's one line and exit code
            from trigon_sync.cli.boundary import report

            sys.exit(report(exc, verbose=False))
    if answered is None:
        from trigon_sync.cli.app import main as full_app

        full_app()
        return
    text, code = answered
    if text is not None:
        try:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except Exception as exc:  # a full disk, a closed pipe: the app's line and code
            from trigon_sync.cli.boundary import report

            sys.exit(report(exc, verbose=call is not None and call.verbose))
    sys.exit(code)
