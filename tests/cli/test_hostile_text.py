"""Text from a server is data: hostile firm names and echoed secrets through every command."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.cli.sandbox_home import Invoke, connect_trigon, connect_uku, sandbox_config
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.settings import fields
from trigon_sync.store import paths
from trigon_sync.store.state import load_state

HOSTILE = [
    "Foo [/bold] OÜ",
    "[link=https://evil.example]Click[/link] AS",
    "Red \x1b[31mALERT\x1b[0m OÜ",
    "Link \x1b]8;;https://evil.example\x07here\x1b]8;;\x07 OÜ",
    "Cursor \x1b[2J\x1b[H\x1b[10A OÜ",
    "Bell\x07 Back\x08space \r CR OÜ",
    "Emoji 🧾💶 OÜ",
    "Bidi \u202eFOO\u202c OÜ",
    "Long " + "x" * 10_000 + " OÜ",
    "Forged\r\nerror: fake line\nwarning: fake OÜ",
]
FORGED = len(HOSTILE) - 1
"""The firm whose name tries to forge lines in cron mail; it also lacks View, so its name
reaches the one-line warnings and failure lines."""
FORBIDDEN = ("\x1b", "\x07", "\x08", "\u202e")
KEYS = fields.KEYS  # every count, in catalogue order
MONTHLY = (
    '\n[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
    'first_import_date = 2024-10-01\nschedule = "last_calendar_day"\n\n[fields]\n'
    + "\n".join(f'{k} = "{n}"' for k, n in zip(KEYS, COUNT_FIELD_NAMES, strict=True))
    + "\n"
)


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    """A world whose Trigon firms (and register entries) carry hostile names."""
    doc = copy.deepcopy(generate_seed(len(HOSTILE), seed=7))
    for firm, name in zip(doc["trigon"]["firms"], HOSTILE, strict=True):
        firm["name"] = name
        for entry in doc["register"]:
            if entry["registration_code"] == firm["registration_code"]:
                entry["name"] = name
    doc["trigon"]["users"][0]["deny_view"] = [doc["trigon"]["firms"][FORGED]["id"]]
    return doc


def check_clean(result: Result, what: str) -> None:
    """No crash, no traceback, no raw escape or control character on the terminal."""
    text = result.stdout + result.stderr
    assert result.exit_code not in (ExitCode.UNEXPECTED,), f"{what}: {result.output[-2000:]}"
    assert "Traceback" not in text, what
    for bad in FORBIDDEN:
        assert bad not in text, f"{what} printed {bad!r}"
    forged = [
        line for line in text.splitlines() if line.startswith(("error: fake", "warning: fake"))
    ]
    assert not forged, f"{what}: a firm name forged a line of its own: {forged}"


def test_hostile_names_go_through_every_command_that_prints_names(
    cli: Invoke, sandbox: Running, write_config: Callable[[str], Path]
) -> None:
    """connect, import, confirm, clients, dry run, run, status, explain, state, history."""
    write_config(sandbox_config(sandbox) + MONTHLY)
    steps: list[tuple[str, Result]] = [
        ("connect", connect_trigon(cli, sandbox)),
        ("connect-uku", connect_uku(cli, sandbox)),
        ("import-clients", cli("import-clients")),
        ("confirm", cli("confirm", "--yes")),
        ("clients", cli("clients")),
        ("dry run", cli("run-monthly", "--today", "31.10.2024", "--dry-run")),
        ("dry run json", cli("run-monthly", "--today", "31.10.2024", "--dry-run", "--json")),
        ("run", cli("run-monthly", "--today", "31.10.2024")),
        ("quiet run", cli("run-monthly", "--today", "31.10.2024", "--quiet")),
        ("status", cli("status")),
        ("state json", cli("state", "show", "--json")),
        ("history", cli("history")),
        ("state show", cli("state", "show")),
    ]
    for link in list(load_state().links.values())[:4]:
        steps.append((f"explain {link.registration_code}", cli("explain", link.registration_code)))
    for what, result in steps:
        check_clean(result, what)
    assert steps[0][1].exit_code in (0, ExitCode.PARTIAL), steps[0][1].output
    assert "Foo [/bold] OÜ" in steps[0][1].stdout  # shown literally, not as markup
    assert load_state().links, "confirm linked the hostile firms"
    assert steps[5][1].exit_code in (0, ExitCode.PARTIAL), steps[5][1].output
    assert "\\u202e" in steps[6][1].stdout  # JSON keeps the value, escaped
    for index in (4, 5):  # the clients table and the dry run's plan show it literally
        assert "[/bold]" in steps[index][1].stdout, steps[index][0]
    assert paths.state_file().exists()


def home_bytes(home: Path) -> bytes:
    """Every file under the home (state, journal, log, config, locks) concatenated."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_secrets_echoed_by_both_services_appear_nowhere(
    cli: Invoke, sandbox: Running, write_config: Callable[[str], Path]
) -> None:
    """Both services quote every key, password and token in their errors; none leaks."""
    write_config(sandbox_config(sandbox) + MONTHLY)
    assert connect_trigon(cli, sandbox).exit_code in (0, ExitCode.PARTIAL)
    assert connect_uku(cli, sandbox).exit_code == 0
    assert cli("import-clients").exit_code == 0
    assert cli("confirm", "--yes").exit_code in (0, ExitCode.PARTIAL)
    results: list[Result] = []
    for side, status in (("uku", 422), ("trigon", 400)):  # 5xx codes: test_http_guards
        sandbox.set_faults(side, echo_status=status, exempt_paths=["/v1/auth/"])
        results += [
            cli("run-monthly", "--today", "31.10.2024"),
            cli("run-monthly", "--today", "31.10.2024", "--dry-run", "--json"),
            cli("doctor"),
            cli("status"),
            cli("history"),
            cli("state", "show", "--json"),
        ]
        sandbox.set_faults(side, echo_status=0, exempt_paths=[])
    sandbox.set_faults("trigon", echo_status=401)
    results.append(connect_trigon(cli, sandbox))
    sandbox.set_faults("uku", echo_status=403)
    results.append(connect_uku(cli, sandbox))
    secrets = sandbox.world.every_secret()
    assert len(secrets) >= 4  # password, key, at least one access and one refresh token
    failed = [r for r in results if r.exit_code != 0]
    assert len(failed) >= 6, "the echo fault made the commands fail"
    assert any("ECHO" in r.stderr or "echoing" in r.output for r in results)
    assert load_state().history and paths.logs_dir().exists()
    haystack = home_bytes(paths.home_dir()).decode("utf-8", "replace") + "".join(
        r.stdout + r.stderr for r in results
    )
    for secret in secrets:
        assert secret not in haystack, f"a secret of {len(secret)} chars leaked"
