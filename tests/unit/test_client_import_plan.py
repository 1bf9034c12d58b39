"""The client import plan: one action and the right flags per Trigon firm."""

from __future__ import annotations

import tomllib
from collections import Counter
from typing import Any

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples_budget import examples
from trigon_sync.business_register.index import RegisterEntry, RegisterIndex
from trigon_sync.clients.plan import (
    firm_name_key,
    idempotency_key_for_firm,
    plan_import,
    select_rows,
)
from trigon_sync.errors import StateError, UsageError
from trigon_sync.records.import_plan import (
    Action,
    ClientRecord,
    FirmRecord,
    Flag,
    ImportPlan,
    PlanRow,
)
from trigon_sync.trigon.models import Firm
from trigon_sync.uku.models import Client

# Valid codes (python-stdnum accepts them) used throughout.
A, B, C, D, E = "10137319", "10000001", "10000018", "10000024", "10000030"
BAD_DIGIT = "10137318"


def _register(*codes: str, names: dict[str, str] | None = None) -> RegisterIndex:
    names = names or {}
    return RegisterIndex.from_entries(
        RegisterEntry(code, names.get(code, f"Firm {code} OÜ"), "R") for code in codes
    )


def _by_id(plan: ImportPlan) -> dict[str, PlanRow]:
    return {row.trigon_id: row for row in plan.rows}


def test_acceptance_mix_of_actions_and_flags() -> None:
    """Duplicates, a bad check digit, register misses, existing clients and missing View."""
    firms = [
        FirmRecord("f1", "Alpha OÜ", "10 137 319", "EE100000001"),
        FirmRecord("f2", "Beta OÜ", B),
        FirmRecord("f3", "Gamma OÜ", C),  # existing Uku client -> link
        FirmRecord("f4", "Delta OÜ", D),  # existing Uku client -> link
        FirmRecord("f5", "Dup One OÜ", E),  # duplicated code
        FirmRecord("f6", "Dup Two OÜ", E),
        FirmRecord("f7", "Wrong Digit OÜ", BAD_DIGIT),
        FirmRecord("f8", "Hidden OÜ", "10000047", viewable=False),
    ]
    clients = [ClientRecord(7, "Gamma OÜ", C), ClientRecord(9, "DELTA  OÜ", "10.000.024")]
    register = _register(B, C, D, E, "10000047")  # A and BAD_DIGIT are missing
    plan = plan_import(firms, clients, links={}, register=register)
    rows = _by_id(plan)

    assert plan.register_checked
    assert {k: r.action for k, r in rows.items()} == {
        "f1": Action.CREATE, "f2": Action.CREATE, "f3": Action.LINK, "f4": Action.LINK,
        "f5": Action.CONFLICT, "f6": Action.CONFLICT, "f7": Action.CREATE, "f8": Action.CREATE,
    }  # fmt: skip
    assert rows["f1"].flags == (Flag.NOT_IN_REGISTER,)
    assert rows["f7"].flags == (Flag.NOT_IN_REGISTER, Flag.BAD_CHECK_DIGIT)
    assert rows["f8"].flags == (Flag.NO_VIEW_PERMISSION,)
    assert all(not rows[k].flags for k in ("f2", "f3", "f4", "f5", "f6"))
    assert (rows["f3"].uku_client_id, rows["f4"].uku_client_id) == (7, 9)
    assert rows["f1"].registration_code == A
    assert rows["f1"].vat_number == "EE100000001"
    assert "f6" in (rows["f5"].reason or "")
    assert "f5" in (rows["f6"].reason or "")
    summary = plan.summary
    assert summary.total == 8
    assert summary.actions == {
        Action.CREATE: 4, Action.LINK: 2, Action.LINKED: 0, Action.MISMATCH: 0,
        Action.CONFLICT: 2,
    }  # fmt: skip
    assert summary.flags[Flag.NOT_IN_REGISTER] == 2
    assert summary.flags[Flag.NAME_DIFFERS] == 0


def test_second_import_after_confirm_shows_everything_linked() -> None:
    """Once state links every firm, a new plan is all `linked` with the same Uku ids."""
    firms = [FirmRecord("f1", "Alpha OÜ", A), FirmRecord("f2", "Beta OÜ", B)]
    clients = [ClientRecord(1, "Alpha OÜ", A), ClientRecord(2, "Beta OÜ", B)]
    plan = plan_import(firms, clients, links={"f1": 1, "f2": 2})
    assert [(r.action, r.uku_client_id) for r in plan.rows] == [
        (Action.LINKED, 1),
        (Action.LINKED, 2),
    ]


def test_without_register_nothing_is_marked_missing() -> None:
    """No register file: no red marks, only the check digit, and the plan says so."""
    plan = plan_import([FirmRecord("f1", "X OÜ", BAD_DIGIT)], [], {}, register=None)
    assert not plan.register_checked
    assert plan.rows[0].flags == (Flag.BAD_CHECK_DIGIT,)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1013731", "no valid registration code ('1013731')"),
        ("EE10137319", "no valid registration code ('EE10137319')"),
        ("", "no registration code in Trigon"),
        (None, "no registration code in Trigon"),
    ],
)
def test_firm_without_a_usable_code_is_a_conflict(raw: str | None, reason: str) -> None:
    """A firm that cannot be matched safely waits for a human, with the raw code shown."""
    plan = plan_import([FirmRecord("f1", "X OÜ", raw)], [], {}, register=_register(A))
    row = plan.rows[0]
    assert row.action is Action.CONFLICT
    assert row.reason == reason
    assert row.registration_code == (raw or "")
    assert row.flags == (Flag.NOT_IN_REGISTER,)


def test_code_matching_two_uku_clients_is_a_conflict() -> None:
    """Two Uku clients with one code: never guess which one to link."""
    clients = [ClientRecord(3, "A", A), ClientRecord(4, "A copy", f"{A[:4]} {A[4:]}")]
    row = plan_import([FirmRecord("f1", "A", A)], clients, {}).rows[0]
    assert row.action is Action.CONFLICT
    assert row.uku_client_id is None
    assert row.reason == "registration code matches Uku clients 3, 4"


def test_uku_client_already_linked_to_another_firm_is_a_conflict() -> None:
    """A client linked to f1 (whose Trigon code changed) is not linked a second time."""
    firms = [FirmRecord("f1", "Old OÜ", B), FirmRecord("f2", "New OÜ", A)]
    plan = plan_import(firms, [ClientRecord(5, "Old OÜ", A)], links={"f1": 5})
    rows = _by_id(plan)
    assert rows["f1"].action is Action.LINKED
    assert rows["f2"].action is Action.CONFLICT
    assert rows["f2"].reason == "Uku client 5 is already linked to Trigon firm f1"


def test_linked_firm_stays_linked_when_a_new_firm_shares_its_code() -> None:
    """State wins for the linked firm; the newcomer with the same code is the conflict."""
    firms = [FirmRecord("f1", "Alpha OÜ", A), FirmRecord("f2", "Alpha copy", A)]
    rows = _by_id(plan_import(firms, [ClientRecord(1, "Alpha OÜ", A)], links={"f1": 1}))
    assert rows["f1"].action is Action.LINKED
    assert rows["f2"].action is Action.CONFLICT


def test_repeated_firm_is_planned_once() -> None:
    """The same firm id listed twice (a repeated page) is one row, not a duplicate code."""
    firm = FirmRecord("f1", "Alpha OÜ", A)
    plan = plan_import([firm, firm], [], {})
    assert [(r.trigon_id, r.action) for r in plan.rows] == [("f1", Action.CREATE)]


@pytest.mark.parametrize(
    ("uku_name", "differs"),
    [
        ("Alpha OÜ", False),
        ("  ALPHA   oü ", False),
        ('"Alpha" OÜ', False),
        ("„Alpha“ OÜ", False),
        ("Official Alpha OÜ", False),  # the register's name is accepted too
        ("Alpha AS", True),
        ("Beta OÜ", True),
    ],
)
def test_name_differs_ignores_case_space_and_quotes(uku_name: str, differs: bool) -> None:
    """Only a real difference from both the Trigon and the register name raises the flag."""
    register = _register(A, names={A: "Official Alpha OÜ"})
    row = plan_import(
        [FirmRecord("f1", "Alpha OÜ", A)], [ClientRecord(1, uku_name, A)], {}, register
    ).rows[0]
    assert row.action is Action.LINK
    assert row.has(Flag.NAME_DIFFERS) is differs
    assert row.uku_name == uku_name


def test_name_key_treats_composed_and_decomposed_letters_alike() -> None:
    """'Õ' typed as one character or as O + combining tilde compares equal."""
    assert firm_name_key("Õun OÜ") == firm_name_key("O\u0303un OU\u0308")


def test_api_models_plug_straight_in() -> None:
    """The Trigon and Uku client models satisfy the planner's inputs without conversion."""
    firm = Firm("f1", "Alpha OÜ", A, None, frozenset({"list"}))
    plan = plan_import([firm], [Client(id=1, name="Alpha OÜ", registration_code=A)], {})
    assert plan.rows[0].action is Action.LINK
    assert plan.rows[0].flags == (Flag.NO_VIEW_PERMISSION,)


# --------------------------------------------------------------------------- staging


def _sample_plan() -> ImportPlan:
    firms = [
        FirmRecord("f1", "Alpha OÜ", A, "EE100000001"),
        FirmRecord("f2", "Beta OÜ", B, viewable=False),
        FirmRecord("f3", "Õunapuu OÜ", "bad"),
        FirmRecord("f4", "Gamma OÜ", C),
        FirmRecord("f5", "Delta OÜ", D),
    ]
    clients = [ClientRecord(7, "Beta AS", B), ClientRecord(8, "Delta OÜ", D)]
    return plan_import(firms, clients, links={"f5": 8}, register=_register(A, C, D))


def _has_none(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_none(v) for v in value)
    return value is None


def test_plan_round_trips_through_toml() -> None:
    """A staged plan survives state.toml unchanged and contains no None (TOML has no null)."""
    plan = _sample_plan()
    doc = plan.to_dict()
    assert not _has_none(doc)
    text = tomli_w.dumps({"staged_import": doc})
    assert ImportPlan.from_dict(tomllib.loads(text)["staged_import"]) == plan


def test_json_rows_have_the_documented_shape() -> None:
    """--json gives exactly the documented keys per firm, null for no Uku client."""
    rows = _sample_plan().to_json()
    keys = ["trigon_id", "name", "registration_code", "action", "flags", "uku_client_id"]
    assert all(list(row) == [*keys, "reason", "conflicts_with"] for row in rows)
    assert rows[1] == {
        "trigon_id": "f2",
        "name": "Beta OÜ",
        "registration_code": B,
        "action": "link",
        "flags": ["not_in_register", "no_view_permission", "name_differs"],
        "uku_client_id": 7,
        "reason": None,
        "conflicts_with": [],
    }
    assert rows[0]["uku_client_id"] is None


@pytest.mark.parametrize(
    "doc",
    [
        {"version": 99, "register_checked": True, "rows": []},
        {"version": 1, "rows": []},
        {"version": 1, "register_checked": True, "rows": "nope"},
        {"version": 1, "register_checked": True, "rows": [{"trigon_id": "f1"}]},
        {"version": 1, "register_checked": True,
         "rows": [{"trigon_id": "f1", "name": "X", "registration_code": A, "action": "explode"}]},
        {"version": 1, "register_checked": True,
         "rows": [{"trigon_id": "f1", "name": "X", "registration_code": A, "action": "link",
                   "uku_client_id": "7"}]},
        {"version": 1, "register_checked": True,
         "rows": [{"trigon_id": "f1", "name": "X", "registration_code": A, "action": "link",
                   "flags": ["sparkly"]}]},
    ],
    ids=["version", "no-register-flag", "rows-not-list", "row-missing-keys", "bad-action",
         "id-as-text", "bad-flag"],
)  # fmt: skip
def test_malformed_staged_plan_is_a_state_error(doc: dict[str, Any]) -> None:
    """A damaged staged plan is refused with a hint to stage it again, never half-applied."""
    with pytest.raises(StateError, match="staged import plan") as caught:
        ImportPlan.from_dict(doc)
    assert "import-clients" in (caught.value.hint or "")


# --------------------------------------------------------------------------- confirm helpers


def test_select_rows_default_applies_creates_and_links_only() -> None:
    """Without options every create/link row of a firm with View is applied; a firm
    without View is left out (as conflicts are), conflicts and linked rows never."""
    selection = select_rows(_sample_plan())
    assert [r.trigon_id for r in selection.creates] == ["f1", "f4"]
    assert selection.links == ()
    assert [r.trigon_id for r in selection.unviewable] == ["f2"]
    assert [r.trigon_id for r in selection.conflicts] == ["f3"]
    assert [r.trigon_id for r in selection.linked] == ["f5"]
    assert selection.skipped == ()


def test_a_firm_without_view_is_applied_only_when_named() -> None:
    """--include CODE (or --only CODE) chooses a firm without View explicitly; it is then
    among the flagged rows confirm warns about."""
    plan = _sample_plan()
    included = select_rows(plan, include=[B])
    assert [r.trigon_id for r in included.links] == ["f2"] and included.unviewable == ()
    assert "f2" in [r.trigon_id for r in included.flagged]
    assert [r.trigon_id for r in select_rows(plan, only=[B]).apply] == ["f2"]


def test_skip_and_only_deselect_rows() -> None:
    """--skip removes rows (any spacing), --only keeps just the named ones."""
    plan = _sample_plan()
    skipped = select_rows(plan, skip=["10 137 319"])
    assert [r.trigon_id for r in skipped.apply] == ["f4"]  # f2: no View, not named
    assert [r.trigon_id for r in skipped.skipped] == ["f1"]
    only = select_rows(plan, only=[C])
    assert [r.trigon_id for r in only.apply] == ["f4"]
    assert [r.trigon_id for r in only.skipped] == ["f1", "f2"]
    both = select_rows(plan, skip=[C], only=[C, A])
    assert [r.trigon_id for r in both.apply] == ["f1"]


def test_unknown_codes_are_all_reported_at_once() -> None:
    """A code not in the plan stops confirm before anything is written, naming every one."""
    with pytest.raises(UsageError, match=f"{E}, 80000001") as caught:
        select_rows(_sample_plan(), skip=[A, E], only=["80000001"])
    assert "import-clients" in (caught.value.hint or "")


def test_non_code_option_values_are_usage_errors() -> None:
    """`--skip abc` is a usage error, not a silent no-op."""
    with pytest.raises(UsageError, match="'abc'"):
        select_rows(_sample_plan(), skip=["abc"])


def test_only_a_conflict_is_refused() -> None:
    """Asking to apply only a conflict row fails: conflicts are never applied."""
    plan = plan_import([FirmRecord("f1", "A", A), FirmRecord("f2", "A2", A)], [], {})
    with pytest.raises(UsageError, match="conflict"):
        select_rows(plan, only=[A])
    assert select_rows(plan, skip=[A]).apply == ()


def test_idempotency_key_is_stable_and_firm_specific() -> None:
    """The key depends only on the firm, so a resumed confirm replays instead of duplicating."""
    key = idempotency_key_for_firm("f1", A)
    assert key == idempotency_key_for_firm("f1", A)
    assert key == "trigon-sync-client-497d656dfc043d5e4e75c52aa3a5902f4f8e6c3e"
    assert key != idempotency_key_for_firm("f2", A)
    assert key != idempotency_key_for_firm("f1", B)
    assert idempotency_key_for_firm("f1", "1" + A) != idempotency_key_for_firm("f11", A)
    assert len(key) <= 255


# --------------------------------------------------------------------------- properties

_CODES = st.sampled_from([A, B, C, D, E, BAD_DIGIT, "1234", None])
_firms = st.lists(
    st.builds(
        FirmRecord,
        id=st.sampled_from([f"f{i}" for i in range(12)]),
        name=st.sampled_from(["Alpha OÜ", "Beta AS"]),
        registration_code=_CODES,
        viewable=st.booleans(),
    ),
    max_size=12,
)
_clients = st.lists(
    st.builds(ClientRecord, id=st.integers(1, 8), name=st.just("Alpha OÜ"),
              registration_code=_CODES),
    max_size=8,
    unique_by=lambda c: c.id,
)  # fmt: skip
_links = st.dictionaries(st.sampled_from([f"f{i}" for i in range(12)]), st.integers(1, 8))


@settings(max_examples=examples(200), deadline=None)
@given(_firms, _clients, _links)
def test_plan_never_duplicates_a_client(
    firms: list[FirmRecord], clients: list[ClientRecord], links: dict[str, int]
) -> None:
    """Whatever the input: one row per firm, and applying the plan cannot create a twin."""
    plan = plan_import(firms, clients, links)
    assert [r.trigon_id for r in plan.rows] == list(dict.fromkeys(f.id for f in firms))
    applied = [r for r in plan.rows if r.action in (Action.CREATE, Action.LINK)]
    # No code is created or linked twice, and never for a code a linked firm already holds.
    codes = Counter(r.registration_code for r in applied)
    assert all(n == 1 for n in codes.values())
    for row in applied:
        uku = [
            c
            for c in clients
            if c.registration_code and row.registration_code == "".join(c.registration_code.split())
        ]
        if row.action is Action.CREATE:
            assert uku == []
        else:
            assert [c.id for c in uku] == [row.uku_client_id]
            assert row.uku_client_id not in {v for k, v in links.items() if k != row.trigon_id}
    assert sum(plan.summary.actions.values()) == len(plan.rows)


def test_conflict_rows_name_what_they_clash_with() -> None:
    """A shared code lists the other firms; an Uku client in the way is named too."""
    firms = [
        FirmRecord("f1", "Dup One OÜ", E),
        FirmRecord("f2", "Dup Two OÜ", E),
        FirmRecord("f3", "Gamma OÜ", C),
    ]
    clients = [ClientRecord(7, "Gamma OÜ", C), ClientRecord(8, "Gamma copy", C)]
    rows = _by_id(plan_import(firms, clients, {}))
    assert [c.to_dict() for c in rows["f1"].clashes] == [
        {"kind": "trigon_firm", "id": "f2", "name": "Dup Two OÜ"}
    ]
    assert rows["f1"].to_json()["reason"] == "registration code also used by Trigon firm(s) f2"
    assert [(c.kind, c.id) for c in rows["f3"].clashes] == [("uku_client", 7), ("uku_client", 8)]
    staged = ImportPlan.from_dict(
        tomllib.loads(tomli_w.dumps(plan_import(firms, clients, {}).to_dict()))
    )
    assert _by_id(staged)["f1"].clashes == rows["f1"].clashes


def test_an_owner_choice_imports_one_firm_of_a_shared_code() -> None:
    """--owner E=f2: f2 is created (or linked), f1 stays a conflict saying who owns it."""
    firms = [FirmRecord("f1", "Dup One OÜ", E), FirmRecord("f2", "Dup Two OÜ", E)]
    rows = _by_id(plan_import(firms, [], {}, owners={E: "f2"}))
    assert rows["f2"].action is Action.CREATE
    assert rows["f1"].action is Action.CONFLICT
    assert rows["f1"].reason == f"registration code {E} was given to Trigon firm f2 (--owner)"
    linked = _by_id(plan_import(firms, [ClientRecord(5, "Dup Two OÜ", E)], {}, owners={E: "f2"}))
    assert (linked["f2"].action, linked["f2"].uku_client_id) == (Action.LINK, 5)


@pytest.mark.parametrize(
    ("owners", "fragment"),
    [
        ({A: "f1"}, "not a registration code several Trigon firms share"),
        ({E: "f9"}, "f9 does not have"),
    ],
)
def test_an_owner_choice_that_does_not_fit_is_refused(
    owners: dict[str, str], fragment: str
) -> None:
    """Owning a code nobody shares, or naming a firm without the code: a usage error."""
    firms = [
        FirmRecord("f1", "Alpha OÜ", A),
        FirmRecord("f2", "Dup One OÜ", E),
        FirmRecord("f3", "Dup Two OÜ", E),
    ]
    with pytest.raises(UsageError, match=fragment):
        plan_import(firms, [], {}, owners=owners)
