"""Digits that are not ASCII ("²", Arabic-Indic, fullwidth) are never taken for ids."""

from __future__ import annotations

import pytest

from trigon_sync.errors import UsageError
from trigon_sync.uku import field_mapping as mapping
from trigon_sync.uku.models import CustomField

FIELDS = [CustomField(id=2, name="Payments", type="number", entity="task")]


@pytest.mark.parametrize("text", ["²", "٢", "２"])
def test_a_non_ascii_digit_field_reference_is_a_clear_error(text):
    """Mapping to Uku field '²' is refused as an unknown field, not a crash in int()."""
    with pytest.raises(UsageError):
        mapping.change_mapping({}, FIELDS, sets=[("payments_created", text)])


def test_an_ascii_id_still_resolves():
    """The plain id keeps working: '2' is the field with id 2."""
    assert mapping.change_mapping({}, FIELDS, sets=[("payments_created", "2")]) == {
        "payments_created": 2
    }
