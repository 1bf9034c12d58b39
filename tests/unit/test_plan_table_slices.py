"""The dry-run/preview table printed in slices: the same text, a bounded piece at a time.

rich renders every cell of a table before writing its first line (21 MB for the 4,900
clients of benchmarks/memory_bench.py), so a long plan is printed ``ROWS_AT_ONCE`` rows
at a time with the whole table's column widths.
"""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from rich.console import Console
from rich.table import Table

from trigon_sync.cli import plan_table
from trigon_sync.monthly.plan import ClientPlan
from trigon_sync.monthly.result import ClientOutcome
from trigon_sync.settings import fields
from trigon_sync.store.state import ClientLink

KEYS = list(fields.KEYS)
CLIENTS = 90
SLICE_ROWS = 40
"""Three slices, two full and a short last one (as 450 clients in the product's slices of
200 were): the same checks on a fifth of the rendering, which rich does cell by cell."""
WORDS = ["Viru", "Tähe Kala", "Põllumajandus", "OÜ", "Arendus ja Teenused", "AS"]


def outcomes(n: int) -> list[ClientOutcome]:
    """Clients with names and counts of every length, some fields missing, some failed."""
    rng = random.Random(3)
    found = []
    for i in range(n):
        name = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
        link = ClientLink(f"f{i}", f"1{i:07d}", name, i, dt.date(2024, 1, 1))
        counts = {k: rng.choice([0, 1, 12, 345, 98765]) for k in KEYS if rng.random() < 0.9}
        plan = ClientPlan(link, rng.choice(["create", "update"]), counts)
        found.append(ClientOutcome(plan, ok=rng.random() > 0.02, error="Trigon answered 503"))
    return found


def printed(width: int, rows_at_once: int, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """The text the plan prints at this terminal width, and the most rows one print held."""
    monkeypatch.setattr(plan_table, "ROWS_AT_ONCE", rows_at_once)
    console = Console(file=io.StringIO(), width=width, color_system=None)
    shown, after = plan_table.plan_table(
        console, outcomes(CLIENTS), KEYS, lambda k: k.replace("_", " ").title()
    )
    for part in [*shown, *after]:
        console.print(part)
    most = max((p.row_count for p in shown if isinstance(p, Table)), default=0)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return text, most


@pytest.mark.parametrize("width", [120, 200, 400])  # numbered columns, named, wide
def test_a_long_plan_prints_in_slices_the_same_text_as_one_table(
    width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [len(o.plan.link.name) for o in outcomes(CLIENTS)]
    slices = [names[i : i + SLICE_ROWS] for i in range(0, CLIENTS, SLICE_ROWS)]
    assert len(slices) == 3 and CLIENTS % SLICE_ROWS
    # each slice alone would size the client column differently: widths must come from all
    assert len({max(part) for part in slices}) == len(slices)
    whole, rows = printed(width, 10**6, monkeypatch)
    assert rows == CLIENTS and "fail:" in whole  # one table: every client (failed ones too)
    sliced, most = printed(width, SLICE_ROWS, monkeypatch)
    assert most == SLICE_ROWS
    assert sliced == whole
    assert sliced.count("Client") == 1  # one header
