"""The ledger in the records database (newest write wins, renamed fields) and the report
built from it; moving an old ledger.jsonl in: tests/unit/test_ledger_migration.py."""

from __future__ import annotations

import datetime as dt

import pytest

from trigon_sync.billing.report import build, period_range
from trigon_sync.errors import UsageError
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.store import ledger, records_db

AT = dt.datetime(2024, 10, 31, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
MAP = (("sales_invoices_created", "Sales invoices"), ("payments_created", "Payments"))


def write(w: ledger.LedgerWriter, period: str, firm: str, counts: dict[str, int], **kw: object):
    w.write(
        period=period,
        firm=firm,
        registration_code=kw.get("code", f"1000{firm}"),  # type: ignore[arg-type]  # kw holds the field's own type
        name=kw.get("name", f"Firm {firm} OÜ"),  # type: ignore[arg-type]  # kw holds the field's own type
        uku_client=1,
        task=kw.get("task", 1),  # type: ignore[arg-type]  # kw holds the field's own type
        action="create",
        mapping=kw.get("mapping", MAP),  # type: ignore[arg-type]  # kw holds the field's own type
        counts=counts,
        at=AT,
    )


def _stored_maps() -> int:
    db = records_db.shared()
    assert db is not None
    with db.read() as con:
        return int(con.execute("SELECT count(*) FROM field_maps").fetchone()[0])


def test_newest_write_wins_and_the_mapping_is_stored_once() -> None:
    """A --rerun's row replaces the earlier counts; the mapping is not stored again."""
    w = ledger.LedgerWriter()
    write(w, "2024-10", "f1", {"sales_invoices_created": 3, "payments_created": 1})
    write(w, "2024-10", "f1", {"sales_invoices_created": 4, "payments_created": 1}, task=2)
    write(w, "2024-10", "f2", {"sales_invoices_created": 0, "payments_created": 0})
    assert _stored_maps() == 1
    book = ledger.load()
    assert book.writes[("f1", "2024-10")].counts == {
        "sales_invoices_created": 4,
        "payments_created": 1,
    }
    assert book.writes[("f1", "2024-10")].task == 2
    # a second writer (the next run) knows the mapping from the database
    write(ledger.LedgerWriter(known=book.field_ids), "2024-11", "f1", {"payments_created": 2})
    assert _stored_maps() == 2  # a new subset
    assert records_db.db_file().stat().st_mode & 0o777 == 0o600


def test_a_ledger_read_in_batches_reads_as_a_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetched a few rows at a time (to bound memory), the ledger gives what it gives in
    one piece: the newest write wins across batches; ``since`` and the newest period
    come from the period index."""
    w = ledger.LedgerWriter()
    for n in range(7):
        write(w, f"2024-0{n + 1}", "f1", {"sales_invoices_created": n, "payments_created": 1})
    write(w, "2024-01", "f1", {"sales_invoices_created": 99, "payments_created": 1}, task=9)
    whole = ledger.load()
    monkeypatch.setattr(ledger, "BATCH_ROWS", 2)
    batched = ledger.load()
    assert batched.writes == whole.writes and len(batched.writes) == 7
    assert batched.writes[("f1", "2024-01")].task == 9
    assert ledger.load(since="2024-06").writes.keys() == {("f1", "2024-06"), ("f1", "2024-07")}
    assert ledger.newest_period() == "2024-07"


def test_report_columns_are_the_uku_names_at_write_time() -> None:
    """A field renamed in Uku between months shows under its old name for the old month."""
    w = ledger.LedgerWriter()
    write(w, "2024-10", "f1", {"sales_invoices_created": 3, "payments_created": 1})
    renamed = (("sales_invoices_created", "Müügiarved"), ("payments_created", "Payments"))
    write(w, "2024-11", "f1", {"sales_invoices_created": 5, "payments_created": 1}, mapping=renamed)
    report = build(ledger.load(), ("2024-10", "2024-11"), AnomalySettings())
    # catalogue order (payments before sales invoices), the older name first
    assert report.columns == ("Payments", "Sales invoices", "Müügiarved")
    assert [dict(r.values) for r in report.rows] == [
        {"Sales invoices": 3, "Payments": 1},
        {"Müügiarved": 5, "Payments": 1},
    ]
    october, november = (report.row_json(r) for r in report.rows)
    assert october["counts"] == [1, 3, None] and october["change"] is None
    # November's change: its own columns against October's values under the same names
    assert november["counts"] == [1, None, 5] and november["change"] == [0, None, 5]


def test_totals_and_change_against_the_previous_month_even_outside_the_range() -> None:
    """Totals per field per period; the first month's change uses the month before it."""
    w = ledger.LedgerWriter()
    for period, a, b in (("2024-09", 1, 1), ("2024-10", 4, 2), ("2024-11", 6, 0)):
        write(w, period, "f1", {"sales_invoices_created": a, "payments_created": 1})
        write(w, period, "f2", {"sales_invoices_created": b, "payments_created": 1})
    report = build(ledger.load(), ("2024-10", "2024-11"), AnomalySettings())
    assert report.totals["2024-10"] == {"Sales invoices": 6, "Payments": 2}
    assert report.changes["2024-10"] == {"Sales invoices": 4, "Payments": 0}
    assert report.changes["2024-11"] == {"Sales invoices": 0, "Payments": 0}
    row = next(r for r in report.rows if r.firm == "f2" and r.period == "2024-11")
    assert row.change == {"Sales invoices": -2, "Payments": 0}
    only = build(ledger.load(), ("2024-11",), AnomalySettings(), firms={"f1"})
    assert [r.firm for r in only.rows] == ["f1"]
    assert only.totals["2024-11"]["Sales invoices"] == 6


def test_report_flags_a_drop_against_the_ledger_history() -> None:
    """A client at zero after active months is flagged in the report too."""
    w = ledger.LedgerWriter()
    for period, n in (("2024-09", 5), ("2024-10", 4), ("2024-11", 0)):
        write(w, period, "f1", {"sales_invoices_created": n, "payments_created": 0})
    report = build(ledger.load(), ("2024-10", "2024-11"), AnomalySettings())
    assert [(r.period, [f.kind for f in r.flags]) for r in report.rows] == [
        ("2024-10", []),
        ("2024-11", ["drop"]),
    ]


def test_period_range_defaults_and_refusals() -> None:
    """No bounds: the newest period; --from alone runs to the newest; reversed is refused."""
    known = ["2024-10", "2024-11", "2024-12"]
    assert period_range(known, None, None) == ("2024-12",)
    assert period_range(known, "2024-11", None) == ("2024-11", "2024-12")
    assert period_range(known, "2024-11", "2025-01") == ("2024-11", "2024-12", "2025-01")
    assert period_range([], None, None) == ()
    with pytest.raises(UsageError):
        period_range(known, "2024-12", "2024-10")
