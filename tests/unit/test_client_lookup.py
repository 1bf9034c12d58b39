"""Which firm a person means: by code, Trigon firm id or part of the name (clients/lookup.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from trigon_sync.clients.ignoring import unignore
from trigon_sync.clients.links import linked_by_code_or_id
from trigon_sync.clients.lookup import find_link
from trigon_sync.errors import UsageError
from trigon_sync.store.state import ClientLink, State

LINKED = dt.date(2024, 10, 1)
NOW = dt.datetime(2024, 10, 31, 9, 0, tzinfo=dt.UTC)


def state_with(*links: ClientLink) -> State:
    state = State()
    for link in links:
        state.links[link.trigon_id] = link
    return state


def test_a_code_two_firms_share_asks_for_the_firm_id() -> None:
    """The code was given already: the way out is the Trigon firm id, listed for each."""
    state = state_with(
        ClientLink("f1", "18408010", "Alpha OÜ", 101, LINKED),
        ClientLink("f2", "18408010", "Alpha OÜ (filiaal)", 102, LINKED),
    )
    with pytest.raises(UsageError) as caught:
        find_link(state, "18408010")
    assert "Alpha OÜ (f1); Alpha OÜ (filiaal) (f2)" in caught.value.message
    assert caught.value.hint == "give the Trigon firm id shown in brackets"
    found = find_link(state, "f2")
    assert found is not None and found.uku_client_id == 102


def test_a_name_many_clients_share_asks_for_the_code() -> None:
    state = state_with(
        ClientLink("f1", "10137319", "Oru Aed AS", 101, LINKED),
        ClientLink("f2", "10000043", "Oru Kivi OÜ", 102, LINKED),
    )
    with pytest.raises(UsageError) as caught:
        find_link(state, "Oru")
    assert "Oru Aed AS (10137319); Oru Kivi OÜ (10000043)" in caught.value.message
    assert caught.value.hint == "give the registration code, or more of the name"


def test_a_trigon_id_names_its_firm_even_where_it_reads_as_another_firms_code() -> None:
    """An id is unique, a code may be shared: the id wins, so the hint "give the Trigon id"
    always works (unlink used to find both firms and refuse)."""
    state = state_with(
        ClientLink("10137319", "18408010", "Alpha OÜ", 101, LINKED),
        ClientLink("f2", "10137319", "Beeta OÜ", 102, LINKED),
    )
    assert linked_by_code_or_id(state, "10137319").uku_client_id == 101
    assert linked_by_code_or_id(state, "10.137.319").uku_client_id == 102


def test_a_shared_code_spelt_two_ways_still_asks_for_the_firm_id() -> None:
    """Both sides are normalised: a code two firms share is one code however each typed it."""
    state = state_with(
        ClientLink("f1", "18408010", "Alpha OÜ", 101, LINKED),
        ClientLink("f2", "184 080 10", "Alpha OÜ (filiaal)", 102, LINKED),
    )
    with pytest.raises(UsageError) as caught:
        find_link(state, "18 408 010")
    assert "Alpha OÜ (f1); Alpha OÜ (filiaal) (f2)" in caught.value.message
    assert caught.value.hint == "give the Trigon firm id shown in brackets"


def test_undo_finds_an_ignored_firm_whose_code_was_stored_as_trigon_typed_it() -> None:
    """An entry an earlier version wrote with Trigon's raw "123 456 78" is found by the
    code in any spelling: ignore --undo compares both sides normalised, as ignore does."""
    state = State()
    state.ignored["f9"] = {"name": "Gamma OÜ", "registration_code": "123 456 78"}
    for query in ("12345678", "12.345.678"):
        state.ignored.setdefault("f9", {"name": "Gamma OÜ", "registration_code": "123 456 78"})
        assert unignore(state, query, NOW)["name"] == "Gamma OÜ"
        assert state.ignored == {}
