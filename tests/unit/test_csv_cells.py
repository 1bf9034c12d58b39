"""csv_cells: text that a spreadsheet would run gets a leading quote; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from trigon_sync.cli.csv_cells import csv_cell, csv_row


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\r=1", "-3"])
def test_text_starting_a_formula_gets_a_quote(text: str) -> None:
    assert csv_cell(text) == "'" + text  # "-3" as *text* (a name, a code) is text


@pytest.mark.parametrize("value", [-3, 0, 12, -1.5, None, "", "Kuuse OÜ", "2024-10", "a=b"])
def test_numbers_and_harmless_text_are_unchanged(value: object) -> None:
    assert csv_cell(value) == value


def test_the_quote_survives_csv_quoting() -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerow(csv_row(['=HYPERLINK("x";"y")', -3]))
    assert buffer.getvalue() == '"\'=HYPERLINK(""x"";""y"")";-3\r\n'
