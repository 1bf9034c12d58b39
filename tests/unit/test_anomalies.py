"""anomalies.check: a drop to zero after activity, and a spike over the trailing median."""

from __future__ import annotations

import random
import statistics

import pytest

from trigon_sync.billing.anomalies import check, flag_series
from trigon_sync.settings.config import AnomalySettings

DEFAULT = AnomalySettings()


def test_all_zero_after_activity_is_a_drop() -> None:
    """Every count 0 after a month with activity is flagged once, as a drop."""
    flags = check({"a": 0, "b": 0}, [{"a": 5, "b": 1}], DEFAULT)
    assert [f.kind for f in flags] == ["drop"]
    assert "every count is 0" in flags[0].message


def test_zero_without_history_or_after_zeros_is_not_flagged() -> None:
    """A new client, or one that was always idle, is not a drop."""
    assert check({"a": 0}, [], DEFAULT) == ()
    assert check({"a": 0}, [{"a": 0}, {"a": 0}], DEFAULT) == ()


def test_only_the_configured_history_counts() -> None:
    """Activity older than history_periods no longer makes a zero month a drop."""
    history = [{"a": 9}, {"a": 0}, {"a": 0}]
    assert check({"a": 0}, history, AnomalySettings(history_periods=2)) == ()
    assert check({"a": 0}, history, AnomalySettings(history_periods=3))


def test_one_zero_field_is_not_a_drop() -> None:
    """Some fields at zero while others are active is ordinary."""
    assert check({"a": 0, "b": 3}, [{"a": 4, "b": 3}, {"a": 4, "b": 3}], DEFAULT) == ()


def test_spike_over_factor_times_the_median_names_the_field() -> None:
    """A count above spike_factor x its trailing median is flagged with field and level."""
    history = [{"a": 10, "b": 2}, {"a": 12, "b": 2}, {"a": 11, "b": 2}]
    flags = check({"a": 200, "b": 3}, history, DEFAULT, {"a": "Sales invoices"})
    assert [(f.kind, f.key, f.count, f.usual) for f in flags] == [("spike", "a", 200, 11.0)]
    assert flags[0].message.startswith("Sales invoices is 200, over 10x its usual 11")


def test_spike_uses_the_median_not_the_maximum() -> None:
    """One earlier busy month does not hide a spike over the usual level."""
    history = [{"a": 2}, {"a": 300}, {"a": 3}]
    assert [f.kind for f in check({"a": 50}, history, DEFAULT)] == ["spike"]


@pytest.mark.parametrize(
    ("count", "history", "flagged"),
    [
        (110, [{"a": 11}, {"a": 11}], False),  # exactly 10x is not above it
        (111, [{"a": 11}, {"a": 11}], True),
        (500, [{"a": 11}], False),  # one earlier period is too little to call it usual
        (500, [{"a": 0}, {"a": 0}], False),  # a usual level of zero: a start, not a spike
    ],
)
def test_spike_boundaries(count: int, history: list[dict[str, int]], flagged: bool) -> None:
    """The threshold is strict, needs two earlier periods and a non-zero median."""
    assert bool(check({"a": count}, history, DEFAULT)) is flagged


def test_factor_is_configurable() -> None:
    """spike_factor = 3 flags what the default 10 lets through."""
    history = [{"a": 10}, {"a": 10}]
    assert check({"a": 40}, history, DEFAULT) == ()
    assert check({"a": 40}, history, AnomalySettings(spike_factor=3))


def _naive(rows: list[list[int]], settings: AnomalySettings) -> list[set[tuple[str, int]]]:
    """The rule as the module docstring states it, with no shortcuts: (kind, column) pairs."""
    out: list[set[tuple[str, int]]] = []
    for i, row in enumerate(rows):
        window = rows[max(0, i - settings.history_periods) : i]
        found: set[tuple[str, int]] = set()
        if window and not any(row) and any(any(r) for r in window):
            found.add(("drop", -1))
        elif len(window) >= 2:
            for j, value in enumerate(row):
                usual = statistics.median(r[j] for r in window)
                if usual > 0 and value > settings.spike_factor * usual:
                    found.add(("spike", j))
        out.append(found)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_fast_series_agrees_with_the_plain_rule(seed: int) -> None:
    """flag_series's shortcuts never change an answer (random series with zeros, spikes)."""
    rng = random.Random(seed)
    settings = AnomalySettings(
        spike_factor=rng.choice((2, 3, 10)), history_periods=rng.randint(1, 6)
    )
    keys = ["a", "b", "c"]
    rows = [
        [rng.choice((0, 0, 1, 2, 3, 4, 7, 30, 100)) * (i % 5 != 3) for _ in keys]
        for i in range(rng.randint(1, 20))
    ]
    got = [
        {(f.kind, keys.index(f.key) if f.key else -1) for f in flags}
        for flags in flag_series(keys, rows, settings)
    ]
    assert got == _naive(rows, settings)
