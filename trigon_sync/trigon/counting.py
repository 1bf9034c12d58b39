"""One firm's counts for one window: the mapped Trigon fields, each asked of Trigon once.

Period fields (created/updated events) are counted over the window's Tallinn days;
snapshot fields (active reporting persons, depreciable fixed assets) are taken on the
window's last day. Unmapped fields are never fetched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, cast

from trigon_sync.settings.fields import TrigonField
from trigon_sync.shared_keys import SharedKeys
from trigon_sync.trigon.client import TrigonClient

if TYPE_CHECKING:
    from trigon_sync.trigon.models import Collection, SnapshotKind


def window_counts(
    trigon: TrigonClient,
    firm_id: str,
    specs: Iterable[TrigonField],
    window_start: dt.date,
    window_end: dt.date,
) -> Mapping[str, int]:
    """Field key -> count, for the fields in ``specs`` (one ``SharedKeys`` per client:
    a run keeps every client's counts to its end)."""
    counts: dict[str, int] = {}
    for spec in specs:
        if spec.kind == "period" and spec.event is not None:
            counts[spec.key] = trigon.count(
                firm_id,
                cast("Collection", spec.collection),
                spec.event,
                window_start,
                window_end,
            )
        else:
            counts[spec.key] = trigon.snapshot(
                firm_id, cast("SnapshotKind", spec.collection), window_end
            )
    return SharedKeys(counts)
