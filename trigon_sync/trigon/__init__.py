"""Trigon API client (read-only): firms, counts and snapshots; see docs/trigon-api.md.

An adapter: imports ``http``, ``store`` (the token), ``settings`` and the shared leaves.
"""

from trigon_sync.trigon.auth import (
    StaticKeyAuth,
    TokenGrant,
    TokenManager,
    TrigonAuth,
    login,
    make_auth,
    revoke,
)
from trigon_sync.trigon.client import FirmNotFound, FirmNotViewable, TrigonClient
from trigon_sync.trigon.models import Collection, Event, Firm, SnapshotKind, TrigonUser
from trigon_sync.trigon.wire import TrigonWire

__all__ = [
    "Collection",
    "Event",
    "Firm",
    "FirmNotFound",
    "FirmNotViewable",
    "SnapshotKind",
    "StaticKeyAuth",
    "TokenGrant",
    "TokenManager",
    "TrigonAuth",
    "TrigonClient",
    "TrigonUser",
    "TrigonWire",
    "login",
    "make_auth",
    "revoke",
]
