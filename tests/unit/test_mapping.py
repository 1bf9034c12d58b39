"""Field mapping rules: what may be written into which Uku custom field."""

from __future__ import annotations

import pytest

from trigon_sync.errors import UsageError
from trigon_sync.settings import fields
from trigon_sync.uku.field_mapping import (
    Status,
    change_mapping,
    check_key,
    count_fields,
    find_topic,
    mapping_rows,
    parse_assignment,
    resolve_target,
    resolve_topic,
)
from trigon_sync.uku.models import CustomField, Topic

SALES = CustomField(10, "Sales invoice created", "number", "task")
PURCHASES = CustomField(11, "Purchase invoice created", "number", "task")
NOTES = CustomField(12, "Notes", "text", "task")
TWIN_A = CustomField(13, "Count", "number", "task")
TWIN_B = CustomField(14, "count", "number", "task")
NUMERIC_NAME = CustomField(15, "2024", "number", "task")
UKU = [SALES, PURCHASES, NOTES, TWIN_A, TWIN_B, NUMERIC_NAME]


def test_assignment_is_key_equals_field() -> None:
    """--set takes KEY=FIELD; the field may contain spaces and '='."""
    assert parse_assignment(" sales_invoices_created = Sales invoice created ") == (
        "sales_invoices_created",
        "Sales invoice created",
    )
    assert parse_assignment("payments_created=a=b") == ("payments_created", "a=b")


@pytest.mark.parametrize("text", ["sales_invoices_created", "=Sales", "payments_created=", ""])
def test_malformed_assignment_is_refused(text: str) -> None:
    """Anything without both a key and a field is a usage error."""
    with pytest.raises(UsageError, match="KEY=UKU_FIELD"):
        parse_assignment(text)


def test_unknown_key_names_the_closest_one() -> None:
    """A typo in a Trigon key suggests the real key."""
    with pytest.raises(UsageError, match="sales_invoices_created"):
        check_key("sales_invoice_created")


def test_target_by_name_is_stored_as_uku_spells_it() -> None:
    """Names match case-insensitively and are stored in Uku's spelling."""
    found, stored = resolve_target("  sales INVOICE created ", UKU)
    assert found == SALES
    assert stored == "Sales invoice created"


def test_target_by_id_is_stored_as_an_integer() -> None:
    """A bare number that is no field's name is an id, stored as an int."""
    assert resolve_target("11", UKU) == (PURCHASES, 11)


def test_a_name_that_looks_like_a_number_wins_over_an_id() -> None:
    """A field literally named "2024" is found by its name."""
    assert resolve_target("2024", UKU) == (NUMERIC_NAME, "2024")


def test_text_field_cannot_hold_a_count() -> None:
    """Only number-type fields can receive a count."""
    with pytest.raises(UsageError, match=r"'Notes'.*cannot hold a count"):
        resolve_target("Notes", UKU)


def test_unknown_field_is_refused_with_a_suggestion() -> None:
    """A field Uku does not have is refused, suggesting a near name."""
    with pytest.raises(UsageError, match="did you mean 'Sales invoice created'"):
        resolve_target("Sales invoices created", UKU)


def test_ambiguous_name_asks_for_the_id() -> None:
    """Two Uku fields with the same name (ignoring case) must be given by id."""
    with pytest.raises(UsageError, match=r"ids 13, 14"):
        resolve_target("COUNT", UKU)
    assert resolve_target("14", UKU) == (TWIN_B, 14)


def test_change_mapping_sets_and_unsets_in_catalogue_order() -> None:
    """--unset removes, --set adds; the result lists keys in catalogue order."""
    result = change_mapping(
        {"payments_created": 13, "sales_invoices_created": "Sales invoice created"},
        UKU,
        sets=[("purchase_invoices_created", "11")],
        unsets=["sales_invoices_created"],
    )
    assert result == {"payments_created": 13, "purchase_invoices_created": 11}
    assert list(result) == [k for k in fields.KEYS if k in result]


def test_two_counts_into_one_field_are_refused_even_by_name_and_id() -> None:
    """A name and an id of the same Uku field collide; nothing is changed."""
    current = {"payments_created": "Sales invoice created"}
    with pytest.raises(UsageError, match="both map to the Uku field 'Sales invoice created'"):
        change_mapping(current, UKU, sets=[("sales_invoices_created", "10")])
    assert current == {"payments_created": "Sales invoice created"}


def test_every_problem_is_reported_at_once() -> None:
    """Two bad --set values give one error naming both, and say nothing was written."""
    with pytest.raises(UsageError) as caught:
        change_mapping({}, UKU, sets=[("payments_created", "Nope"), ("payments_updated", "Notes")])
    message = caught.value.message
    assert "payments_created" in message
    assert "payments_updated" in message
    assert "nothing was written" in message


def test_the_same_key_set_twice_is_refused() -> None:
    """--set KEY twice is ambiguous, so it is refused."""
    with pytest.raises(UsageError, match="set twice"):
        change_mapping({}, UKU, sets=[("payments_created", "10"), ("payments_created", "11")])


def test_a_stale_entry_does_not_block_an_unrelated_change() -> None:
    """A mapping to a field deleted in Uku stays (shown as missing) while others change."""
    result = change_mapping(
        {"payments_created": "Deleted field"}, UKU, sets=[("expense_lines_created", "10")]
    )
    assert result == {
        "payments_created": "Deleted field",
        "expense_lines_created": 10,
    }


def test_rows_report_each_fields_status() -> None:
    """All 14 rows come back; each mapped one says whether Uku can take it."""
    mapping = {
        "payments_created": "Sales invoice created",
        "payments_updated": "Notes",
        "purchase_invoices_created": "Gone",
        "purchase_invoices_updated": 10,
        "sales_invoices_created": "count",
    }
    rows = {row.field.key: row for row in mapping_rows(mapping, UKU)}
    assert len(rows) == 14
    assert rows["payments_created"].status is Status.OK
    assert rows["payments_created"].uku_field == SALES
    assert rows["payments_updated"].status is Status.NOT_NUMBER
    assert rows["purchase_invoices_created"].status is Status.MISSING
    assert rows["purchase_invoices_updated"].status is Status.DUPLICATE
    assert rows["sales_invoices_created"].status is Status.AMBIGUOUS
    assert rows["depreciable_fixed_assets"].status is Status.UNMAPPED


def test_rows_without_uku_are_not_checked() -> None:
    """When Uku was not read, mapped rows say so instead of guessing."""
    rows = mapping_rows({"payments_created": 10}, None)
    assert rows[0].status is Status.NOT_CHECKED
    assert rows[0].to_json()["configured"] == 10
    assert rows[1].to_json()["uku_field"] is None


def test_count_fields_are_the_number_fields() -> None:
    """Only number fields are offered for a count."""
    assert NOTES not in count_fields(UKU)
    assert SALES in count_fields(UKU)


def test_topic_by_name_or_id_and_unknown_topic() -> None:
    """A topic is found by name (stored as named in Uku) or id; an unknown one is refused."""
    topics = [Topic(1, "Bookkeeping"), Topic(2, "Payroll")]
    assert resolve_topic("bookkeeping", topics) == (topics[0], "Bookkeeping")
    assert resolve_topic("2", topics) == (topics[1], 2)
    with pytest.raises(UsageError, match=r"no topic 'Bokkeeping'.*did you mean 'Bookkeeping'"):
        resolve_topic("Bokkeeping", topics)
    assert find_topic("PAYROLL", topics) == topics[1]
    assert find_topic(3, topics) is None
