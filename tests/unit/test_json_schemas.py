"""Every documented ``--json`` document has a schema, and the CLI tests really check them."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.json_schemas import SCHEMAS, check_output, document_name, registry
from trigon_sync.clients.confirm_results import ConfirmResult
from trigon_sync.clients.plan import Selection
from trigon_sync.uku.models import UkuWarning

DOC = Path(__file__).parent.parent.parent / "docs" / "json-output.md"


def documented() -> set[str]:
    """The document names of docs/json-output.md's sections and its 'Other' list."""
    text = DOC.read_text(encoding="utf-8")
    commands = re.findall(r"^## `([^`]+)`", text, re.M)
    commands += re.findall(r"^- `([^`]+--json)`", text, re.M)
    names = {document_name(shlex.split(command)) for command in commands}
    names.discard(None)
    return names  # type: ignore[return-value]  # None was just discarded


def test_every_documented_document_has_a_valid_schema_and_no_schema_is_stray() -> None:
    """docs/json-output.md and docs/schemas/ name the same documents; each schema is valid."""
    schemas = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert documented() == schemas
    assert len(schemas) >= 15
    for name in schemas:
        assert registry().contents(f"https://trigon-sync.invalid/schemas/{name}.schema.json")


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["--home", "h", "status", "--json"], "status"),
        (["status"], None),
        (["explain", "10137319", "--period", "2024-10", "--json"], "explain"),
        (["state", "show", "--json"], "state-show"),
        (["map-fields", "--show", "--json"], "map-fields"),
        (["report", "--format", "json"], "report"),
        (["report", "-f", "csv"], None),
        (["register", "check", "10137319", "--json"], "register-check"),
    ],
)
def test_invocations_are_matched_to_their_document(args: list[str], name: str | None) -> None:
    """The CLI fixture finds the schema of each ``--json`` invocation (none without one)."""
    assert document_name(args) == name


def test_a_document_off_its_schema_fails_the_test_that_printed_it() -> None:
    """A wrong value, a missing key and non-JSON output each fail the check."""
    good = '{"last_period_end": null, "last_period": null, "runs": []}'
    check_output(["schedule", "--json"], good)
    with pytest.raises(AssertionError, match="last_period"):
        check_output(["schedule", "--json"], '{"last_period_end": null, "runs": []}')
    with pytest.raises(AssertionError, match="runs"):
        check_output(
            ["schedule", "--json"],
            '{"last_period_end": null, "last_period": null, "runs": [{"due": 1}]}',
        )
    with pytest.raises(ValueError):
        check_output(["schedule", "--json"], "Next import: …")


def test_confirms_document_with_an_uku_warning_is_on_its_schema() -> None:
    """Uku's warnings travel as {code, message} objects (the schema once said strings)."""
    selection = Selection(apply=(), skipped=(), conflicts=(), linked=())
    result = ConfirmResult(
        results=(),
        selection=selection,
        warnings=(UkuWarning("vat_number_ignored", "VAT number was not stored"),),
        notes=("restored from a backup taken 07.12.2026 07:40: waiting up to 30 s",),
    )
    check_output(["confirm", "--yes", "--json"], json.dumps(result.to_json()))
