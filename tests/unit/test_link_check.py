"""The rules of the nightly link check (clients/link_check.py): pure, no sandbox needed."""

from __future__ import annotations

import datetime as dt

from trigon_sync.clients.link_check import elsewhere, link_problems, unlink_args
from trigon_sync.records.import_plan import ClientRecord
from trigon_sync.store.state import ClientLink

A, B = "company-a", "company-b"


def _link(firm: str, code: str, client: int, company: str | None = A) -> ClientLink:
    return ClientLink(firm, code, f"Firm {firm}", client, dt.date(2024, 9, 30), [], company)


def _client(client: int, code: str | None) -> ClientRecord:
    return ClientRecord(client, f"Client {client}", code)


def test_a_link_that_holds_passes_whatever_the_separators() -> None:
    """Codes are compared in the one normalised form: "10 137 319" is 10137319."""
    links = [_link("f1", "10137319", 1)]
    problems = link_problems(
        links, company=A, clients={1: _client(1, "10.137.319")}, firm_codes={"f1": "10 137 319"}
    )
    assert problems == {}


def test_each_reason_in_order_of_consequence() -> None:
    links = [
        _link("f1", "10137319", 1, company=B),  # another company (its client looks fine)
        _link("f2", "10000004", 2),  # client gone
        _link("f3", "10000010", 3),  # code changed in Trigon
        _link("f4", "10000027", 4),  # client re-coded in Uku
        _link("f5", "10000033", 5, company=None),  # predates the record: taken to be in A
    ]
    clients = {
        1: _client(1, "10137319"),
        3: _client(3, "10000010"),
        4: _client(4, "10000043"),
        5: _client(5, "10000033"),
    }
    firm_codes = {"f1": "10137319", "f2": "10000004", "f3": "10000056", "f4": "10000027"}
    problems = link_problems(links, company=A, clients=clients, firm_codes=firm_codes)
    assert set(problems) == {"f1", "f2", "f3", "f4"}
    assert problems["f1"].startswith(f"linked in Uku company {B}, but")
    assert "no longer in Uku" in problems["f2"]
    assert "changed from 10000010 to 10000056" in problems["f3"]
    assert "now has registration code 10000043, not the firm's 10000027" in problems["f4"]
    for problem in problems.values():
        assert "nothing is written" in problem and "trigon-sync unlink" in problem


def test_a_firm_without_a_code_in_trigon_now_is_a_change_not_a_pass() -> None:
    problems = link_problems(
        [_link("f1", "10137319", 1)],
        company=A,
        clients={1: _client(1, "10137319")},
        firm_codes={"f1": "  "},
    )
    assert "changed from 10137319 to none" in problems["f1"]


def test_a_firm_not_listed_is_still_checked_against_its_uku_client() -> None:
    """Gone from Trigon (reported by the run itself): the Uku side is checked by the code
    recorded at link time."""
    problems = link_problems(
        [_link("f1", "10137319", 1)], company=A, clients={1: _client(1, "10000004")}, firm_codes={}
    )
    assert "now has registration code 10000004" in problems["f1"]


def test_unlink_names_the_code_unless_shared_then_the_quoted_firm_id() -> None:
    links = [_link("f1", "10137319", 1), _link("a b", "10137319", 2), _link("f3", "10000004", 3)]
    assert unlink_args(links) == {"f1": "f1", "a b": "'a b'", "f3": "10000004"}


def test_elsewhere_counts_links_of_other_companies_old_ones_by_the_assumed_company() -> None:
    links = [_link("f1", "1", 1, A), _link("f2", "2", 2, B), _link("f3", "3", 3, None)]
    assert [x.trigon_id for x in elsewhere(links, B, assumed=A)] == ["f1", "f3"]
    assert [x.trigon_id for x in elsewhere(links, B, assumed=None)] == ["f1"]
