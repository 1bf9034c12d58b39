"""What the Uku client takes and returns, independent of Uku's JSON (see adapter.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

TaskStatus = Literal["new", "in_progress", "finished"]
FieldValue = int | float | str | None
COUNT_FIELD_TYPES = frozenset({"number", "integer"})
"""Custom-field types that hold a count: Uku has both (docs/uku-api.md, assumption 4)."""


@dataclass(frozen=True)
class Client:
    """An Uku client (a customer of the accounting firm)."""

    id: int
    name: str
    registration_code: str | None
    vat_number: str | None = None
    country: str | None = "EE"
    manager_id: int | None = None


@dataclass(frozen=True)
class ClientDraft:
    """A client to create."""

    name: str
    registration_code: str | None
    vat_number: str | None = None
    country: str = "EE"
    manager_id: int | None = None


@dataclass(frozen=True)
class ClientChanges:
    """A partial client update; None means "leave as is"."""

    name: str | None = None
    registration_code: str | None = None
    vat_number: str | None = None
    manager_id: int | None = None


@dataclass(frozen=True)
class Member:
    """A user of the Uku company (a possible client manager)."""

    id: int
    email: str
    name: str
    role: str | None = None


@dataclass(frozen=True)
class Topic:
    id: int
    name: str


@dataclass(frozen=True)
class CustomField:
    """A custom field definition; only number and integer fields can hold a count."""

    id: int
    name: str
    type: str
    entity: str

    @property
    def holds_count(self) -> bool:
        return self.type in COUNT_FIELD_TYPES


@dataclass(frozen=True, slots=True)
class Task:
    """An Uku task; ``custom_fields`` maps field id -> value. ``client_id`` is None for a
    task that belongs to no client (Uku allows it: a person's to-do, the probe's task)."""

    id: int
    title: str
    client_id: int | None
    topic_id: int | None
    date: dt.date | None
    status: str
    description: str | None = None
    custom_fields: Mapping[int, FieldValue] = field(default_factory=dict)
    created_at: dt.datetime | None = field(default=None, compare=False)
    """When Uku made the task (``created_at``), if it says: the order a newest-first
    listing is checked against (monthly/task_listing.py)."""
    replayed: bool = field(default=False, compare=False)
    """A create answered with ``Idempotency-Replayed: true``: Uku repeated the first answer
    to this key, which may describe a task deleted since."""


@dataclass(frozen=True)
class TaskDraft:
    """A task to create."""

    title: str
    client_id: int
    topic_id: int
    date: dt.date
    description: str | None = None
    custom_fields: Mapping[int, FieldValue] = field(default_factory=dict)
    status: TaskStatus = "new"


@dataclass(frozen=True)
class TaskChanges:
    """A partial task update; None means "leave as is". Named custom fields are replaced,
    the others kept."""

    title: str | None = None
    date: dt.date | None = None
    status: TaskStatus | None = None
    description: str | None = None
    custom_fields: Mapping[int, FieldValue] | None = None


@dataclass(frozen=True)
class UkuWarning:
    """A note Uku attached to an answer (``warnings`` array)."""

    code: str
    message: str
