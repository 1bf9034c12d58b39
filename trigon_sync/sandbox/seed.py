"""The sandbox seed: one JSON document describing the Trigon world, the Uku world and the register.

This module holds the typed seed and its error; seed_reader.py reads and checks a seed
document (format: docs/sandbox.md, ``seed.schema.json`` next to this file).

Trigon parts are parsed into frozen dataclasses (timestamps become aware datetimes);
Uku parts stay in their wire shape (plain dicts) because the Uku app serves them as-is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trigon_sync.errors import UsageError
from trigon_sync.sandbox.unrelated_tasks import UnrelatedTasks

RECORD_TYPES: tuple[str, ...] = (
    "payment",
    "purchase_invoice",
    "sales_invoice",
    "financial_entry",
    "expense_line",
    "depreciation_entry",
)
#: URL collection name (docs/trigon-api.md) -> record type in the seed.
COLLECTIONS: dict[str, str] = {
    "payments": "payment",
    "purchase-invoices": "purchase_invoice",
    "sales-invoices": "sales_invoice",
    "financial-entries": "financial_entry",
    "expense-lines": "expense_line",
    "depreciation-entries": "depreciation_entry",
}
UKU_FIELD_TYPES = ("number", "text", "date", "select")
UKU_ENTITIES = ("task", "client")
UKU_TASK_STATUSES = ("new", "in_progress", "finished")
UKU_PLANS_WITH_API = ("team", "elite")
UKU_PLANS = ("free", "starter", "pro", "team", "elite")
UKU_ROLES = ("owner", "admin", "member")
REGISTER_STATUSES = ("R", "L", "N")
TRIGON_ENVIRONMENTS = ("production", "test")
DEFAULT_ACCESS_TTL = 900
DEFAULT_REFRESH_TTL = 30 * 24 * 3600


class SeedError(UsageError):
    """A seed file cannot be used; ``problems`` lists every bad entry with its JSON path."""

    def __init__(self, problems: Sequence[str], *, source: str = "seed") -> None:
        self.problems = tuple(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"{source} is not a valid sandbox seed: {shown}{more}",
            hint="see docs/sandbox.md for the seed format, or generate one with "
            "`trigon-sync sandbox seed`",
        )


@dataclass(frozen=True)
class SeedApiKey:
    """An ID token + API key pair generated in Trigon's API settings for one environment."""

    id_token: str
    api_key: str
    environment: str = "production"


@dataclass(frozen=True)
class SeedUser:
    """A Trigon user; ``list``/``view`` hold firm ids or ``"*"`` (every firm)."""

    email: str
    password: str
    name: str
    active: bool = True
    removed: bool = False
    list: tuple[str, ...] = ("*",)
    view: tuple[str, ...] = ("*",)
    deny_list: tuple[str, ...] = ()
    deny_view: tuple[str, ...] = ()
    api_keys: tuple[SeedApiKey, ...] = ()


@dataclass(frozen=True)
class SeedFirm:
    id: str
    name: str
    registration_code: str | None
    vat_number: str | None = None


@dataclass(frozen=True)
class SeedRecord:
    """One accounting record; ``date`` is the document date (earlier when back-dated)."""

    firm: str
    type: str
    created_at: dt.datetime
    updated_at: dt.datetime
    id: str
    date: dt.date | None = None


@dataclass(frozen=True)
class SeedReportingPerson:
    firm: str
    active_from: dt.date
    active_to: dt.date | None = None
    name: str | None = None


@dataclass(frozen=True)
class SeedFixedAsset:
    firm: str
    depreciation_start: dt.date
    depreciation_end: dt.date
    name: str | None = None


@dataclass(frozen=True)
class TrigonSeed:
    users: tuple[SeedUser, ...] = ()
    firms: tuple[SeedFirm, ...] = ()
    records: tuple[SeedRecord, ...] = ()
    reporting_persons: tuple[SeedReportingPerson, ...] = ()
    fixed_assets: tuple[SeedFixedAsset, ...] = ()
    access_token_ttl: int = DEFAULT_ACCESS_TTL
    refresh_token_ttl: int = DEFAULT_REFRESH_TTL


@dataclass(frozen=True)
class UkuSeed:
    """The Uku company; objects are wire-shaped dicts (docs/uku-api.md, Assumptions)."""

    company: str
    api_key: str
    plan: str = "team"
    api_key_role: str = "admin"
    complete_endpoint: bool = True
    clients: tuple[dict[str, Any], ...] = ()
    topics: tuple[dict[str, Any], ...] = ()
    custom_fields: tuple[dict[str, Any], ...] = ()
    members: tuple[dict[str, Any], ...] = ()
    tasks: tuple[dict[str, Any], ...] = ()
    unrelated_tasks: UnrelatedTasks | None = None
    """The company's other work, made up on demand (unrelated_tasks.py)."""


@dataclass(frozen=True)
class Seed:
    """A validated seed; ``raw`` is the JSON it came from (for re-serialising)."""

    trigon: TrigonSeed
    uku: UkuSeed
    register: tuple[dict[str, str], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
