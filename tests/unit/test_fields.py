"""The catalogue of the 14 Trigon count fields."""

from __future__ import annotations

import pytest

from trigon_sync.settings.fields import FIELDS, KEYS, by_key, is_known


def test_there_are_fourteen_fields_with_unique_keys() -> None:
    """Twelve period counts plus two snapshots, each key once."""
    assert len(FIELDS) == 14
    assert len(set(KEYS)) == 14
    assert [f.kind for f in FIELDS].count("snapshot") == 2


@pytest.mark.parametrize(
    ("key", "en", "et", "collection", "event"),
    [
        ("payments_created", "Payment created", "Makse loomine", "payments", "created"),
        ("payments_updated", "Payment updated", "Makse uuendamine", "payments", "updated"),
        (
            "purchase_invoices_updated",
            "Purchase invoice updated",
            "Ostuarve uuendamine",
            "purchase-invoices",
            "updated",
        ),
        (
            "sales_invoices_created",
            "Sales invoice created",
            "Müügiarve loomine",
            "sales-invoices",
            "created",
        ),
        (
            "financial_entries_created",
            "Financial entry created",
            "Finantskande loomine",
            "financial-entries",
            "created",
        ),
        (
            "expense_lines_updated",
            "Expense line updated",
            "Kulurea uuendamine",
            "expense-lines",
            "updated",
        ),
        (
            "depreciation_entries_created",
            "Fixed-asset depreciation entry created",
            "Põhivara amortisatsiooni loomine",
            "depreciation-entries",
            "created",
        ),
    ],
)
def test_period_fields_carry_labels_and_trigon_collection(
    key: str, en: str, et: str, collection: str, event: str
) -> None:
    """Period fields name the product's labels and the Trigon collection and event to count."""
    field = by_key(key)
    assert (field.label_en, field.label_et, field.kind) == (en, et, "period")
    assert (field.collection, field.event) == (collection, event)


def test_snapshot_fields_point_at_snapshot_endpoints() -> None:
    """The two snapshots use the reporting-persons and fixed-assets count endpoints."""
    persons = by_key("active_reporting_persons")
    assets = by_key("depreciable_fixed_assets")
    assert (persons.kind, persons.collection, persons.snapshot_param) == (
        "snapshot",
        "reporting-persons",
        "as_of",
    )
    assert persons.label_et == "Aktiivsete aruandvate isikute arv"
    assert (assets.collection, assets.snapshot_param) == ("fixed-assets", "depreciable_on")
    assert assets.label_en == "Depreciable fixed assets"
    assert assets.label_et == "Amortiseeritavate põhivarade arv"


def test_unknown_key_is_not_known() -> None:
    """A misspelt key is reported as unknown rather than guessed."""
    assert not is_known("sales_invoice_created")
    with pytest.raises(KeyError):
        by_key("sales_invoice_created")
