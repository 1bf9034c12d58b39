"""The catalogue of Trigon counts that can be mapped onto Uku task custom fields.

The keys are the stable names used in ``config.toml`` ``[fields]`` and in state; the
English and Estonian labels are exactly how the product names the fields, so users can
recognise them in either language. Period fields count records created or updated inside
an import window; snapshot fields count what exists on the window's last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["period", "snapshot"]
Event = Literal["created", "updated"]


@dataclass(frozen=True)
class TrigonField:
    """One count: where Trigon keeps it and how people call it."""

    key: str
    label_en: str
    label_et: str
    kind: FieldKind
    collection: str
    """Trigon path under ``/firms/{id}/`` (see docs/trigon-api.md)."""
    event: Event | None = None
    """For period fields: count records ``created`` or ``updated`` in the window."""
    snapshot_param: str | None = None
    """For snapshots: the query parameter that takes the window's last day."""


def _pair(stem: str, collection: str, en: str, et: str) -> tuple[TrigonField, TrigonField]:
    return (
        TrigonField(
            f"{stem}_created", f"{en} created", f"{et} loomine", "period", collection, "created"
        ),
        TrigonField(
            f"{stem}_updated", f"{en} updated", f"{et} uuendamine", "period", collection, "updated"
        ),
    )


FIELDS: tuple[TrigonField, ...] = (
    *_pair("payments", "payments", "Payment", "Makse"),
    *_pair("purchase_invoices", "purchase-invoices", "Purchase invoice", "Ostuarve"),
    *_pair("sales_invoices", "sales-invoices", "Sales invoice", "Müügiarve"),
    *_pair("financial_entries", "financial-entries", "Financial entry", "Finantskande"),
    *_pair("expense_lines", "expense-lines", "Expense line", "Kulurea"),
    *_pair(
        "depreciation_entries",
        "depreciation-entries",
        "Fixed-asset depreciation entry",
        "Põhivara amortisatsiooni",
    ),
    TrigonField(
        "active_reporting_persons",
        "Active reporting persons",
        "Aktiivsete aruandvate isikute arv",
        "snapshot",
        "reporting-persons",
        snapshot_param="as_of",
    ),
    TrigonField(
        "depreciable_fixed_assets",
        "Depreciable fixed assets",
        "Amortiseeritavate põhivarade arv",
        "snapshot",
        "fixed-assets",
        snapshot_param="depreciable_on",
    ),
)

_BY_KEY = {field.key: field for field in FIELDS}

KEYS: tuple[str, ...] = tuple(_BY_KEY)


def by_key(key: str) -> TrigonField:
    """The field with this key; ``KeyError`` for an unknown key (check with ``is_known``)."""
    return _BY_KEY[key]


def is_known(key: str) -> bool:
    """Whether ``key`` names one of the 14 fields."""
    return key in _BY_KEY
