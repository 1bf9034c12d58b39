"""What `run-monthly --quiet` (the cron line) mails when clients fail: each failing
(client, period) once, on its ``owed:`` line with its reason and age, one bounded
``error:`` summary, the same lines from the quiet dry run, and no "held back" wording
(a failed client owes its period; no period waits for another)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, confirm_all, sandbox_config, store_sandbox_secrets
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import ClientLink, load_state

FIELDS = '\n[fields]\nsales_invoices_created = "Sales invoice created"\n'
SUMMARY = (
    '\n[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
    'first_import_date = 2024-10-01\nschedule = "last_calendar_day"\n'
)
ERROR_LIMIT = 300
"""An ``error:`` line cron mails stays readable however many clients fail."""


def _home(sandbox: Running, write_config: Callable[[str], Path], cli: Invoke) -> list[ClientLink]:
    """Connected, one field mapped, every firm linked (View granted for the import)."""
    write_config(sandbox_config(sandbox) + SUMMARY + FIELDS)
    store_sandbox_secrets(sandbox, open_store("keyring"))
    for firm in sandbox.world.trigon.firms:
        sandbox.world.restore_view(firm)
    assert cli("import-clients").exit_code == 0
    assert confirm_all(cli).exit_code in (0, ExitCode.PARTIAL)
    return sorted(load_state().links.values(), key=lambda link: link.trigon_id)


def _said(lines: list[str], link: ClientLink) -> list[str]:
    return [line for line in lines if link.name in line]


def _mail(result: Any) -> list[str]:
    """The cron mail's lines about failing pairs (warnings and count flags aside)."""
    return [
        line for line in result.stderr.splitlines() if not line.startswith(("warning: ", "flag: "))
    ]


def _lines(result: Any) -> list[str]:
    """Everything on stderr but warnings about the home (only a real run checks it)."""
    return [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]


@pytest.fixture
def seed() -> dict[str, Any]:
    return generate_seed(12, seed=4)


def test_each_failing_pair_is_mailed_once_on_its_owed_line(
    cli: Invoke, sandbox: Running, write_config: Callable[[str], Path]
) -> None:
    """Two clients without View, two due periods, then a night that retries the owed
    pairs: each (client, period) is one ``owed:`` line with reason and age, never a
    ``failed:`` or ``held back:`` line, and the error line names no client."""
    links = _home(sandbox, write_config, cli)
    victims = links[:2]
    for victim in victims:
        sandbox.world.revoke_view(victim.trigon_id)

    for today, age in (("30.11.2024", "0 days"), ("01.12.2024", "1 day")):
        result = cli("run-monthly", "--today", today, "--quiet")
        assert result.exit_code == ExitCode.PARTIAL, result.output
        assert result.stdout == ""
        lines = _mail(result)
        for victim in victims:
            assert [line.split(":")[1] for line in _said(lines, victim)] == [
                f" {victim.name} ({victim.registration_code}) period 2024-10, owed for {age}",
                f" {victim.name} ({victim.registration_code}) period 2024-11, owed for {age}",
            ], lines
        assert not [line for line in lines if line.startswith(("failed: ", "held back"))]
        assert lines[-1].startswith(
            "error: 4 (client, period) pair(s) owed in 2024-10, 2024-11; each is named above"
        ), lines
        assert len(lines) == 5, lines


def test_the_quiet_dry_run_mails_what_the_quiet_real_run_mails(
    cli: Invoke, sandbox: Running, write_config: Callable[[str], Path]
) -> None:
    """On the first night and on a night that only retries owed pairs, ``--dry-run
    --quiet`` prints the same lines as the real ``--quiet`` run, with its exit code."""
    links = _home(sandbox, write_config, cli)
    for victim in links[:2]:
        sandbox.world.revoke_view(victim.trigon_id)
    for today in ("30.11.2024", "01.12.2024"):
        dry = cli("run-monthly", "--today", today, "--dry-run", "--quiet")
        real = cli("run-monthly", "--today", today, "--quiet")
        assert real.exit_code == dry.exit_code == ExitCode.PARTIAL, real.output
        assert dry.stdout == real.stdout == ""
        assert _lines(dry) == _lines(real)
        assert [line for line in _mail(real) if line.startswith(("owed: ", "error: "))]


def test_a_rerun_failure_is_one_failed_line(
    cli: Invoke, sandbox: Running, write_config: Callable[[str], Path]
) -> None:
    """A re-count makes no owed pair: its failing client keeps one ``failed:`` line with
    its reason, and the error line is the summary."""
    links = _home(sandbox, write_config, cli)
    assert cli("run-monthly", "--today", "31.10.2024", "--quiet").exit_code == 0
    victim = links[0]
    sandbox.world.revoke_view(victim.trigon_id)
    result = cli("run-monthly", "--rerun", "2024-10", "--quiet")
    assert result.exit_code == ExitCode.PARTIAL, result.output
    lines = _mail(result)
    said = _said(lines, victim)
    assert len(said) == 1 and said[0].startswith(f"failed: {victim.name} "), lines
    assert "2024-10" in said[0] and "View" in said[0]
    assert lines[-1].startswith("error: 1 (client, period) pair(s) failed in 2024-10; each is")
    assert not [line for line in lines if "held back" in line]


@pytest.mark.parametrize("seed", [generate_seed(54, seed=7)], ids=["54 firms"])
def test_the_error_line_stays_short_with_fifty_failing_clients(
    cli: Invoke, sandbox: Running, write_config: Callable[[str], Path]
) -> None:
    """50 clients without View: 50 ``owed:`` lines, and one short error line."""
    links = _home(sandbox, write_config, cli)
    for victim in links[:50]:
        sandbox.world.revoke_view(victim.trigon_id)
    result = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert result.exit_code == ExitCode.PARTIAL, result.output
    lines = _mail(result)
    assert len([line for line in lines if line.startswith("owed: ")]) == 50
    assert lines[-1].startswith("error: 50 (client, period) pair(s) owed in 2024-10")
    assert len(lines[-1]) < ERROR_LIMIT, lines[-1]
