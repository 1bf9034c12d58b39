"""Trigon API client (read-only): firms, counts and snapshots; see docs/trigon-api.md."""

from trigon_sync.trigon.auth import TokenGrant, TokenManager, TrigonWire, login, revoke
from trigon_sync.trigon.client import FirmNotFound, FirmNotViewable, TrigonClient
from trigon_sync.trigon.models import Collection, Event, Firm, SnapshotKind, TrigonUser

__all__ = [
    "Collection",
    "Event",
    "Firm",
    "FirmNotFound",
    "FirmNotViewable",
    "SnapshotKind",
    "TokenGrant",
    "TokenManager",
    "TrigonClient",
    "TrigonUser",
    "TrigonWire",
    "login",
    "revoke",
]
