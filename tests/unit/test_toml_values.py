"""What TOML cannot hold is dropped once, for config.toml and state.toml alike."""

from __future__ import annotations

from trigon_sync.store.toml_values import without_none


def test_none_is_dropped_in_tables_and_in_the_tables_inside_arrays() -> None:
    """A key set to None is removed at any depth, also in an array of tables (config.toml's
    edits used to leave those, which the TOML writer cannot write)."""
    doc = {"a": None, "b": {"c": None, "d": 1}, "e": [{"f": None, "g": 2}, 3]}
    assert without_none(doc) == {"b": {"d": 1}, "e": [{"g": 2}, 3]}
