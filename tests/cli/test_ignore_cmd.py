"""`ignore` and `ignore --undo` through the CLI, against the sandbox on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from trigon_sync.registration_codes import normalise_code
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import load_state


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    """20 firms, one of them with its registration code typed in Trigon with spaces."""
    return generate_seed(20, seed=11, spaced_codes=1)


@pytest.fixture
def connected(sandbox: Running, write_config: Callable[[str], Path]) -> Running:
    """A home connected to both sandbox servers, nothing staged or linked yet."""
    write_config(sandbox_config(sandbox))
    store_sandbox_secrets(sandbox, open_store("keyring"))
    return sandbox


def spaced_firm(seed: dict[str, Any]) -> tuple[str, str]:
    """(Trigon id, normalised code) of the firm whose code Trigon holds as "123 456 78"."""
    [firm_id] = seed["anomalies"]["spaced_codes"]
    firm = next(f for f in seed["trigon"]["firms"] if f["id"] == firm_id)
    code = normalise_code(firm["registration_code"])
    assert code is not None and code != firm["registration_code"]
    return firm_id, code


FORMS: dict[str, Callable[[str, str], str]] = {
    "spaces": lambda _id, code: f"{code[:2]} {code[2:5]} {code[5:]}",
    "dots": lambda _id, code: f"{code[:2]}.{code[2:5]}.{code[5:]}",
    "none": lambda _id, code: code,
    "Trigon id": lambda firm_id, _code: firm_id,
}


@pytest.mark.parametrize("form", FORMS)
def test_ignore_then_undo_finds_the_firm_by_any_spelling_of_its_code_or_its_id(
    cli: Invoke, connected: Running, seed: dict[str, Any], form: str
) -> None:
    """`ignore X` then `ignore --undo X` both find the firm, whatever form X takes, though
    Trigon types its code "123 456 78"; the entry keeps the code in its normalised form."""
    firm_id, code = spaced_firm(seed)
    query = FORMS[form](firm_id, code)

    ignored = cli("ignore", query)
    assert ignored.exit_code == 0, ignored.output
    assert load_state().ignored[firm_id]["registration_code"] == code

    undone = cli("ignore", query, "--undo")
    assert undone.exit_code == 0, undone.output
    assert load_state().ignored == {}
