"""Uku API client (public API v3 subset); contract assumptions live in adapter.py."""

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
