"""Which rows the automatic import may apply: only the ones no human needs to look at."""

from __future__ import annotations

from trigon_sync.business_register.index import RegisterEntry, RegisterIndex
from trigon_sync.clients.auto_import import REGISTER_UNCHECKED, choose_rows
from trigon_sync.clients.plan import plan_import
from trigon_sync.records.import_plan import ClientRecord, FirmRecord

A, B, C, D, E = "10137319", "10000001", "10000018", "10000024", "10000030"
BAD_DIGIT = "10137318"
FIRMS = [
    FirmRecord("f1", "Missing OÜ", A),  # not in the register: red X
    FirmRecord("f2", "New OÜ", B),  # clear-cut create
    FirmRecord("f3", "Known OÜ", C),  # clear-cut link to Uku client 7
    FirmRecord("f5", "Dup One OÜ", E),
    FirmRecord("f6", "Dup Two OÜ", E),  # conflict
    FirmRecord("f7", "Wrong Digit OÜ", BAD_DIGIT),
    FirmRecord("f8", "Hidden OÜ", D, viewable=False),
]
CLIENTS = [ClientRecord(7, "Known OÜ", C)]


def register(*codes: str) -> RegisterIndex:
    return RegisterIndex.from_entries(RegisterEntry(code, "X OÜ", "R") for code in codes)


def test_only_valid_registered_unambiguous_viewable_rows_are_applied() -> None:
    """Create f2 and link f3; red X, bad digit, conflicts and no View are held with reasons."""
    plan = plan_import(FIRMS, CLIENTS, links={}, register=register(B, C, D, E))
    selection, held = choose_rows(plan)
    assert [row.trigon_id for row in selection.apply] == ["f2", "f3"]
    reasons = {h.row.trigon_id: h.reason for h in held}
    assert reasons["f1"] == "not in the Business Register"
    assert reasons["f7"] == "bad check digit; not in the Business Register"
    assert reasons["f8"] == "no View permission in Trigon"
    assert reasons["f5"].startswith("conflict") and reasons["f6"].startswith("conflict")
    assert set(reasons) == {"f1", "f5", "f6", "f7", "f8"}


def test_already_linked_firms_are_neither_applied_nor_reported() -> None:
    """A firm linked earlier is simply done."""
    plan = plan_import(FIRMS[1:2], [], links={"f2": 11}, register=register(B))
    selection, held = choose_rows(plan)
    assert selection.apply == () and held == ()


def test_without_the_register_nothing_is_created() -> None:
    """No register: validity cannot be shown, so every new firm waits for a human."""
    plan = plan_import(FIRMS[1:3], CLIENTS, links={}, register=None)
    selection, held = choose_rows(plan)
    assert selection.apply == ()
    assert {h.row.trigon_id: h.reason for h in held} == {
        "f2": REGISTER_UNCHECKED,
        "f3": REGISTER_UNCHECKED,
    }
