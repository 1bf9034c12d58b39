"""Counts that look wrong before they are billed: a drop to zero, a spike (pure).

Two signs cost an office money or a client's trust when they reach an invoice unnoticed:

* **drop**: every count of the period is zero although the client had activity in its
  recent periods: usually a lost View permission or a firm moved to another Trigon user;
* **spike**: one count is more than ``spike_factor`` times its usual level, the median of
  the client's last ``history_periods`` periods: usually a bulk re-import in Trigon.

A spike needs :data:`MIN_SPIKE_HISTORY` earlier periods with a non-zero median, so a new
client's first busy month is not a spike. Counts in, flags out: no files, no clock; the
monthly run (review.py), ``status`` and ``report`` all ask this one module.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from trigon_sync.config import AnomalySettings

MIN_SPIKE_HISTORY = 2
"""Earlier periods needed before a count can be called far above its usual level."""

Kind = Literal["drop", "spike"]
Counts = Mapping[str, int]


@dataclass(frozen=True)
class Flag:
    """One reason to look at a client's counts before they are billed."""

    kind: Kind
    message: str
    key: str | None = None
    """The Trigon field key of a spike (None for a drop)."""
    count: int | None = None
    usual: float | None = None
    """The trailing median a spike was compared with."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "field": self.key,
            "count": self.count,
            "usual": self.usual,
            "message": self.message,
        }


def _usual(value: float) -> str:
    return f"{value:g}"


def check(
    counts: Counts,
    history: Sequence[Counts],
    settings: AnomalySettings,
    labels: Mapping[str, str] | None = None,
) -> tuple[Flag, ...]:
    """Flags for one client's ``counts`` given its earlier periods (oldest first).

    Only the last ``settings.history_periods`` entries of ``history`` are looked at;
    ``labels`` names the fields in messages (Trigon key -> Uku field name).
    """
    recent = list(history[-settings.history_periods :]) if history else []
    if not counts or not recent:
        return ()
    names = labels or {}
    if all(value == 0 for value in counts.values()):
        active = [c for c in recent if any(c.values())]
        if active:
            return (
                Flag(
                    "drop",
                    f"every count is 0 after activity in {len(active)} of the last "
                    f"{len(recent)} period(s) (lost View permission, or the firm moved to "
                    "another Trigon user?)",
                ),
            )
        return ()
    flags: list[Flag] = []
    if len(recent) < MIN_SPIKE_HISTORY:
        return ()
    factor = settings.spike_factor
    for key, value in counts.items():
        earlier = [c[key] for c in recent if key in c]
        if len(earlier) < MIN_SPIKE_HISTORY or value <= factor * min(earlier):
            continue  # cheap: the median is never below the minimum
        usual = statistics.median(earlier)
        if usual > 0 and value > factor * usual:
            flags.append(
                Flag(
                    "spike",
                    f"{names.get(key, key)} is {value}, over {factor:g}x its usual "
                    f"{_usual(usual)} (median of the last {len(earlier)} period(s); a bulk "
                    "re-import in Trigon?)",
                    key=key,
                    count=value,
                    usual=float(usual),
                )
            )
    return tuple(flags)
