"""The dry run of 36 clients as a person and a pipe see it (issue 28, item 2): one row per
client with Uku's field names (or numbered columns and a legend) as columns, within 80
columns and under 60 lines on a terminal, one line per client in a pipe."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli import test_run_monthly as base
from tests.cli.sandbox_home import Invoke
from trigon_sync.cli import output
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.store.state import load_state

ready = base.ready  # the fully set-up home of test_run_monthly, over 40 firms


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(40, seed=4)


def test_a_dry_run_of_36_clients_is_a_table_that_fits_80_columns(
    cli: Invoke, ready: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns: every line fits, no word is split, the whole plan is under 60 lines
    (it was 216), and each linked client is one row with its action."""
    links = load_state().links
    assert len(links) >= 36
    monkeypatch.setattr(output.stdout, "width", 80)
    monkeypatch.setattr(output.stdout, "_force_terminal", True)
    result = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    lines = result.stdout.splitlines()
    assert len(lines) < 60, result.stdout
    assert max(len(line) for line in lines) <= 80
    flat = " ".join(result.stdout.split())
    assert all(name in flat for name in COUNT_FIELD_NAMES)  # no word split across lines
    header = next(line for line in lines if line.startswith("Client"))
    assert header.split()[1:3] == ["Action", "1"]  # 14 names do not fit: numbered columns
    assert "Columns: 1 " in result.stdout and COUNT_FIELD_NAMES[0] in result.stdout
    rows = [line for line in lines if line.split()[-15:-14] in (["create"], ["fail"])]
    assert len(rows) == len(links)


def test_in_a_pipe_each_client_and_the_totals_stay_one_line(cli: Invoke, ready: Running) -> None:
    """Not a terminal: a client row is one line, and the totals line is not wrapped."""
    result = cli("run-monthly", "--today", "31.10.2024", "--dry-run")
    lines = result.stdout.splitlines()
    [totals] = [line for line in lines if line.startswith("Totals: ")]
    assert all(name in totals for name in COUNT_FIELD_NAMES)
    for link in load_state().links.values():
        assert sum(1 for line in lines if f"({link.registration_code})" in line) >= 1
