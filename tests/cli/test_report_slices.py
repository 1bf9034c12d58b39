"""A long `report` is built a few periods at a time, and says exactly what one build says.

Five years at 5,000 clients do not fit in memory as one report (benchmarks/memory_bench.py),
so `report` builds :data:`report.SLICE_PERIODS` months at a time, carrying each client's
recent periods into the next slice, and streams each format. These tests build the same
reports with slices of two months and with one slice for the whole range, byte for byte,
over a ledger with a field renamed mid-range, a client dropping to zero and one spiking.
"""

from __future__ import annotations

import datetime as dt
import errno
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke
from trigon_sync.billing import report
from trigon_sync.cli import report_cmd
from trigon_sync.dates import add_months, format_period
from trigon_sync.store import ledger

AT = dt.datetime(2024, 12, 31, 0, 30, tzinfo=dt.UTC)
OLD = (("payments_created", "Payments"), ("sales_invoices_created", "Sales invoices"))
NEW = (("payments_created", "Payments"), ("sales_invoices_created", "Müügiarved"))
PERIODS = [format_period(add_months((2023, 11), n)) for n in range(14)]  # 2023-11..2024-12


def write_history() -> None:
    writer = ledger.LedgerWriter()
    for index, period in enumerate(PERIODS):
        mapping = OLD if period < "2024-09" else NEW
        for n in range(5):
            payments, sales = 10 + n, 3 * n + index % 3
            if n == 1 and period >= "2024-11":
                payments = sales = 0  # lost View permission: a drop
            if n == 2 and period == "2024-08":
                payments = 400  # a bulk re-import: a spike
            writer.write(
                period=period, firm=f"f{n}", registration_code=f"1000000{n}",
                name=f"Klient {n} OÜ", uku_client=n, task=100 * index + n, action="create",
                mapping=mapping, at=AT,
                counts={"payments_created": payments, "sales_invoices_created": sales},
            )  # fmt: skip
    writer.accept("2024-08", "f2", AT)


FORMS = [
    ("-f", "csv"),
    ("-f", "csv", "--no-totals", "--separator", ","),
    ("-f", "json"),
    (),
    ("--chart",),
    ("--client", "10000002"),
    ("--client", "10000001", "--chart"),
]


@pytest.mark.parametrize("form", FORMS, ids=" ".join)
def test_sliced_report_is_the_one_build_report(
    cli: Invoke, form: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices of two months: the same bytes as one build of 2024-01..2024-12."""
    write_history()
    args = ("report", "--from", "2024-01", "--to", "2024-12", *form)
    monkeypatch.setattr(report, "SLICE_PERIODS", 100)
    whole = cli(*args)
    monkeypatch.setattr(report, "SLICE_PERIODS", 2)
    sliced = cli(*args)
    assert whole.exit_code == sliced.exit_code == 0, sliced.output
    assert sliced.stdout_bytes == whole.stdout_bytes
    assert "Müügiarved" in whole.stdout or "--chart" in form or "--client" in form


def test_the_sliced_report_keeps_the_flags_and_the_renamed_column(cli: Invoke) -> None:
    """Slices still see the history before them: December's drop and August's spike."""
    write_history()
    done = cli("report", "--from", "2024-01", "--to", "2024-12", "-f", "csv")
    assert report.SLICE_PERIODS < 12  # this range is built in slices
    rows = done.stdout.lstrip("\ufeff").splitlines()
    assert rows[0].split(";")[3:6] == ["Payments", "Sales invoices", "Müügiarved"]
    flagged = {tuple(r.split(";")[:2]) for r in rows[1:] if r.split(";")[-1]}
    assert flagged == {
        ("2024-11", "Klient 1 OÜ"),
        ("2024-12", "Klient 1 OÜ"),
        ("2024-08", "Klient 2 OÜ"),
    }


def rewrite_in_another_layout(period: str) -> None:
    """A re-count of ``period`` under a mapping no other write uses (one field, renamed):
    each client's newer row there replaces its earlier one."""
    writer = ledger.LedgerWriter()
    for write in ledger.load(since=period).writes.values():
        if write.period == period:
            writer.write(
                period=period, firm=write.firm, registration_code=write.registration_code,
                name=write.name, uku_client=write.uku_client, task=write.task,
                action="update", mapping=(("payments_created", "Makse loodud"),),
                counts={"payments_created": write.values[0]}, at=dt.datetime.now(tz=dt.UTC),
            )  # fmt: skip


@pytest.mark.parametrize("form", [(), ("-f", "csv"), ("-f", "json")], ids=" ".join)
def test_a_write_line_in_another_layout_is_counted_by_every_reader(
    cli: Invoke, form: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid JSON that is not the writer's compact form: its column and total are in the
    sliced report as in one build, and it is the newest period a plain report shows."""
    write_history()
    rewrite_in_another_layout("2024-12")
    args = ("report", "--from", "2024-01", "--to", "2024-12", *form)
    monkeypatch.setattr(report, "SLICE_PERIODS", 100)
    whole = cli(*args)
    monkeypatch.setattr(report, "SLICE_PERIODS", 2)
    sliced = cli(*args)
    assert whole.exit_code == sliced.exit_code == 0, sliced.output
    assert sliced.stdout_bytes == whole.stdout_bytes
    assert "Makse loodud" in whole.stdout
    assert ledger.newest_period() == "2024-12"


def test_a_report_that_stops_half_way_leaves_the_previous_file(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o FILE` replaces the file only once the whole report is written."""
    write_history()
    exports = tmp_path / "exports"
    exports.mkdir()
    out = exports / "counts.csv"
    out.write_text("last month's good report\n", encoding="utf-8")
    out.chmod(0o640)
    real = report_cmd.write_csv

    def full_disk(parts: Any, sink: Any, separator: str, *, totals: bool) -> int:
        sink.write(b"half a report")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_cmd, "write_csv", full_disk)
    failed = cli("report", "--from", "2024-01", "--to", "2024-12", "-f", "csv", "-o", str(out))
    assert failed.exit_code == 2 and "No space left on device" in failed.stderr
    assert out.read_text(encoding="utf-8") == "last month's good report\n"
    assert [p.name for p in exports.iterdir()] == ["counts.csv"]  # no temp file left
    monkeypatch.setattr(report_cmd, "write_csv", real)
    done = cli("report", "--from", "2024-01", "--to", "2024-12", "-f", "csv", "-o", str(out))
    assert done.exit_code == 0 and "Müügiarved" in out.read_text(encoding="utf-8-sig")
    assert out.stat().st_mode & 0o777 == 0o640  # the export keeps its own mode
