"""Counts that look wrong before they are billed: a drop to zero, a spike (pure).

Two signs cost an office money or a client's trust when they reach an invoice unnoticed:

* **drop**: every count of the period is zero although the client had activity in its
  recent periods: usually a lost View permission or a firm moved to another Trigon user;
* **spike**: one count is more than ``spike_factor`` times its usual level, the median of
  the client's last ``history_periods`` periods: usually a bulk re-import in Trigon.

A spike needs :data:`MIN_SPIKE_HISTORY` earlier periods with a non-zero median, so a new
client's first busy month is not a spike. Counts in, flags out: no files, no clock; the
monthly run (monthly/review.py), ``status`` and ``report`` all ask this one module.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from trigon_sync.settings.config import AnomalySettings

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


def _drop(active: int, looked: int) -> Flag:
    return Flag(
        "drop",
        f"every count is 0 after activity in {active} of the last {looked} period(s) "
        "(lost View permission, or the firm moved to another Trigon user?)",
    )


def _spike(key: str, value: int, usual: float, looked: int, factor: float, label: str) -> Flag:
    return Flag(
        "spike",
        f"{label} is {value}, over {factor:g}x its usual {_usual(usual)} (median of the last "
        f"{looked} period(s); a bulk re-import in Trigon?)",
        key=key,
        count=value,
        usual=float(usual),
    )


Row = Sequence[int | None]
"""One period's counts aligned to a list of keys (None: that field was not written then)."""


def flag_series(
    keys: Sequence[str],
    rows: Sequence[Row],
    settings: AnomalySettings,
    labels: Mapping[str, str] | None = None,
    *,
    start: int = 0,
) -> list[tuple[Flag, ...]]:
    """Flags for each of one client's periods (oldest first) from ``start`` on, each judged
    against the up to ``history_periods`` rows before it.

    Column-wise, so a report over thousands of clients and years stays fast: a count can
    only be above ``factor`` times a non-zero median of whole numbers (at least 0.5) if it
    is above ``factor / 2``, and never if it is at most ``factor`` times the window's
    minimum (so a column whose largest count is at most ``factor`` times its smallest has
    none); only what passes is sorted for its median.
    """
    depth, factor = settings.history_periods, settings.spike_factor
    names = labels or {}
    found: list[list[Flag]] = [[] for _ in rows]
    gaps = any(None in row for row in rows)
    dense_rows = cast("Sequence[Sequence[int]]", rows)  # read only when there are no gaps
    totals = [sum(v for v in row if v) for row in rows] if gaps else [sum(r) for r in dense_rows]
    for i in range(max(start, 1), len(rows)) if 0 in totals[start:] else ():
        if totals[i] == 0 and any(v is not None for v in rows[i]):
            recent = totals[i - depth if i > depth else 0 : i]
            active = sum(1 for t in recent if t)
            if active:
                found[i].append(_drop(active, len(recent)))
    first = max(start, MIN_SPIKE_HISTORY)
    half = factor / 2
    for key, column in zip(keys, zip(*rows, strict=True), strict=True):
        dense = not gaps or None not in column
        if first >= len(column):
            break
        if dense:  # two C-level calls rule out most columns (see the docstring)
            top = max(column[first:])
            if top <= half or top <= factor * min(column[:-1]):
                continue
        for i in range(first, len(column)):
            value = column[i]
            if value is None or value <= half:
                continue
            window = column[i - depth if i > depth else 0 : i]
            earlier = window if dense else [v for v in window if v is not None]
            if len(earlier) < MIN_SPIKE_HISTORY or value <= factor * min(earlier):
                continue
            usual = statistics.median(earlier)
            if usual > 0 and value > factor * usual:
                found[i].append(
                    _spike(key, value, usual, len(earlier), factor, names.get(key, key))
                )
    return [tuple(flags) for flags in found]


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
    recent = list(history[-settings.history_periods :])
    if not counts or not recent:
        return ()
    keys = list(counts)
    rows = [[c.get(k) for k in keys] for c in [*recent, counts]]
    return flag_series(keys, rows, settings, labels, start=len(rows) - 1)[-1]
