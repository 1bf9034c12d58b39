"""Uku API client (public API v3 subset); contract assumptions live in adapter.py, and the
mapping of Trigon counts onto this company's custom fields in field_mapping.py.

An adapter: imports ``http``, ``settings`` and the shared leaves.
"""

from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.models import (
    Client,
    ClientChanges,
    ClientDraft,
    CustomField,
    Member,
    Task,
    TaskChanges,
    TaskDraft,
    Topic,
    UkuWarning,
)

__all__ = [
    "Client",
    "ClientChanges",
    "ClientDraft",
    "CustomField",
    "Member",
    "Task",
    "TaskChanges",
    "TaskDraft",
    "Topic",
    "UkuClient",
    "UkuWarning",
]
