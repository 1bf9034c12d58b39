"""Which linked client a person means: by code, Trigon firm id or part of the name."""

from __future__ import annotations

import datetime as dt

import pytest

from trigon_sync.clients.lookup import find_link
from trigon_sync.errors import UsageError
from trigon_sync.store.state import ClientLink, State

LINKED = dt.date(2024, 10, 1)


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
