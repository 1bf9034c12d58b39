"""Bad input, everywhere: every command's options and every config key, fed wrong values.

Wrong types, impossible or out-of-range dates, unknown names, empty strings, huge values
and non-UTF-8 bytes. Each must end with one ``error:`` line and a documented exit code
(README: 2 usage, 3 configuration, 4 authentication, 7 service), never a traceback, and
must leave state.toml and config.toml byte for byte as they were.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from trigon_sync.errors import ExitCode
from trigon_sync.store import paths
from trigon_sync.store.state import ClientLink, locked_state

Invoke = Callable[..., Result]
HUGE = "9" * 5000
USAGE, CONFIG, AUTH = ExitCode.USAGE, ExitCode.CONFIG, ExitCode.AUTH
GOOD_CONFIG = """\
[trigon]
base_url = "http://127.0.0.1:9/v1"
email = "admin@firm.ee"
token_store = "file"

[uku]
base_url = "http://127.0.0.1:9/api/v3"
company = "3f6c1a52-8e0b-4d7e-9a51-2c4b7d9e0f11"

[summary]
task_title = "Monthly summary {period}"
topic = "Bookkeeping"
first_import_date = 2024-10-01
schedule = "last_calendar_day"

[fields]
sales_invoices_created = "Sales invoices"
"""

# (arguments, the exit codes that are right for it)
# Accepted on purpose, so not in these tables: a first_import_date long ago (the first
# window is then long), a title without {period} or very long, a field mapped by Uku id.
OPTION_CASES: list[tuple[tuple[str, ...], set[int]]] = [
    (("no-such-command",), {USAGE}),
    (("--home",), {USAGE}),
    (("run-monthly", "--today", ""), {USAGE}),
    (("run-monthly", "--today", "32.13.2024"), {USAGE}),
    (("run-monthly", "--today", "2024-02-30"), {USAGE}),
    (("run-monthly", "--today", "01.01.2999"), {USAGE}),
    (("run-monthly", "--today", HUGE), {USAGE}),
    (("run-monthly", "--workers", "0"), {USAGE}),
    (("run-monthly", "--workers", "abc"), {USAGE}),
    (("run-monthly", "--workers", HUGE), {USAGE}),
    (("run-monthly", "--rerun", ""), {USAGE}),
    (("run-monthly", "--rerun", "2024-13"), {USAGE}),
    (("run-monthly", "--rerun", "1800-01"), {USAGE}),
    (("run-monthly", "--bogus"), {USAGE}),
    (("schedule", "--count", "0"), {USAGE}),
    (("schedule", "--count", "-1"), {USAGE}),
    (("schedule", "--count", HUGE), {USAGE}),
    (("schedule", "--today", "yesterday"), {USAGE}),
    (("state", "set-last-period-end", "", "--yes"), {USAGE}),
    (("state", "set-last-period-end", "2024-02-30", "--yes"), {USAGE}),
    (("state", "set-last-period-end", "01.01.2999", "--yes"), {USAGE}),
    (("state", "set-last-period-end", "2024-10-30", "--period", "2024-99", "--yes"), {USAGE}),
    (("state", "show", "--bogus"), {USAGE}),
    (("config", "check", "extra"), {USAGE}),
    (("connect", "--token-store", "cloud", "--email", "a@b.ee", "--password-stdin"), {USAGE}),
    (("connect", "--trigon-url", "", "--check"), {USAGE, AUTH}),
    (
        ("connect", "--trigon-url", "not a url", "--email", "a@b.ee", "--password-stdin"),
        {USAGE, CONFIG},
    ),
    (("connect", "--email", "", "--password-stdin"), {USAGE}),
    (("connect", "--email", HUGE, "--password-stdin"), {USAGE}),
    (("connect-uku", "--company", "", "--key-stdin"), {USAGE}),
    (("connect-uku", "--token-store", "cloud", "--key-stdin"), {USAGE}),
    (("import-clients", "--register", "/no/such/file.zip"), {USAGE}),
    (("import-clients", "--register", ""), {USAGE}),
    (("confirm", "--yes"), {USAGE}),
    (("confirm", "--skip", "", "--yes"), {USAGE}),
    (("confirm", "--only", HUGE, "--yes"), {USAGE}),
    (("map-fields", "--set", ""), {USAGE}),
    (("map-fields", "--set", "nope=Sales invoices"), {USAGE}),
    (("map-fields", "--set", "sales_invoices_created="), {USAGE}),
    (("map-fields", "--unset", "nope"), {USAGE}),
    (("map-fields", "--day", "0"), {USAGE}),
    (("map-fields", "--day", "32"), {USAGE}),
    (("map-fields", "--schedule", "weekly"), {USAGE}),
    (("map-fields", "--first-import-date", "31.02.2024"), {USAGE}),
    (("map-fields", "--title", ""), {USAGE}),
    (("map-fields", "--topic", ""), {USAGE, AUTH}),
    (("register", "check", ""), {USAGE}),
    (("register", "check", HUGE), {USAGE}),
    (("history", "--bogus"), {USAGE}),
    (("explain", "--period", "2024-13"), {USAGE}),
]

CONFIG_CASES: list[tuple[str, str]] = [
    ("first_import_date as text", GOOD_CONFIG.replace("2024-10-01", '"yesterday"')),
    ("unknown schedule", GOOD_CONFIG.replace('"last_calendar_day"', '"weekly"')),
    ("schedule as a number", GOOD_CONFIG.replace('"last_calendar_day"', "5")),
    ("empty title", GOOD_CONFIG.replace('"Monthly summary {period}"', '""')),
    ("title as a number", GOOD_CONFIG.replace('"Monthly summary {period}"', "5")),
    ("base_url as a number", GOOD_CONFIG.replace('"http://127.0.0.1:9/v1"', "5")),
    ("base_url empty", GOOD_CONFIG.replace('"http://127.0.0.1:9/v1"', '""')),
    ("unknown token store", GOOD_CONFIG.replace('token_store = "file"', 'token_store = "x"')),
    ("empty company", GOOD_CONFIG.replace('"3f6c1a52-8e0b-4d7e-9a51-2c4b7d9e0f11"', '""')),
    ("unknown field key", GOOD_CONFIG + 'nope_created = "Nope"\n'),
    ("section as a value", GOOD_CONFIG.replace("[fields]\n", "fields = 3\n[x]\n")),
    ("not TOML", GOOD_CONFIG + "this is = = not toml\n"),
]


@pytest.fixture
def home(write_config: Callable[[str], Path]) -> Path:
    """A configured home with one linked client, so state.toml exists to be protected."""
    write_config(GOOD_CONFIG)
    with locked_state() as session:
        session.state.links["F1"] = ClientLink(
            "F1", "10137319", "Firm", 1, __import__("datetime").date(2024, 9, 1)
        )
        session.save()
    return paths.home_dir()


def fingerprint() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for path in (paths.state_file(), paths.config_file()):
        out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return out


def assert_one_clear_line(output: str, code: int, allowed: set[int]) -> None:
    assert code in allowed, (code, output)
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output


@pytest.mark.parametrize(
    ("args", "allowed"), OPTION_CASES, ids=[" ".join(a)[:40] for a, _ in OPTION_CASES]
)
def test_bad_option_values_give_one_line_and_change_nothing(
    cli: Invoke, home: Path, args: tuple[str, ...], allowed: set[int]
) -> None:
    """Each bad option: one error line, a documented code, state and config untouched."""
    before = fingerprint()
    result = cli(*args, stdin="")
    assert_one_clear_line(result.output, result.exit_code, allowed)
    assert fingerprint() == before


@pytest.mark.parametrize(("name", "text"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
@pytest.mark.parametrize("command", [("config", "check"), ("run-monthly", "--today", "31.10.2024")])
def test_bad_config_values_give_the_config_code_and_change_nothing(
    cli: Invoke, home: Path, name: str, text: str, command: tuple[str, ...]
) -> None:
    """Each bad config.toml value: exit 3 with one line naming the problem, nothing rewritten."""
    paths.config_file().write_text(text, encoding="utf-8")
    before = fingerprint()
    result = cli(*command)
    if command[0] == "config":  # lists every problem, one per line, each naming the file
        assert result.exit_code == CONFIG and "Traceback" not in result.output
        assert "config.toml" in result.output
    else:
        assert_one_clear_line(result.output, result.exit_code, {CONFIG})
    assert fingerprint() == before


def run_raw(args: list[bytes], home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, paths.ENV_HOME: str(home)}
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"trigon_sync", *args],
        capture_output=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        [b"run-monthly", b"--today", b"\xff\xfe2024"],
        [b"map-fields", b"--set", b"sales_invoices_created=\xff"],
        [b"register", b"check", b"\xc3\x28"],
        [b"\xff"],
    ],
    ids=["date", "field name", "code", "command"],
)
def test_non_utf8_arguments_give_one_line(home: Path, args: list[bytes]) -> None:
    """Undecodable bytes on the command line are refused in one line, not a crash."""
    before = fingerprint()
    done = run_raw(args, home)
    err = done.stderr.decode("utf-8", "replace")
    assert_one_clear_line(err, done.returncode, {USAGE, AUTH})  # map-fields asks Uku first
    assert fingerprint() == before


def test_non_utf8_config_file_gives_the_config_code(home: Path) -> None:
    """A config.toml saved in Latin-1 (or worse) is a configuration error naming the file."""
    paths.config_file().write_bytes(GOOD_CONFIG.encode() + b'title = "\xe4\xf6"\n')
    before = fingerprint()
    done = run_raw([b"run-monthly", b"--today", b"31.10.2024"], home)
    err = done.stderr.decode("utf-8", "replace")
    assert_one_clear_line(err, done.returncode, {CONFIG})
    assert "config.toml" in err
    assert fingerprint() == before
