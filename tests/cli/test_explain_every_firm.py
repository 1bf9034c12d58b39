"""`explain` answers for every firm, linked or not (issue 25).

Each state is built in the sandbox the way support meets it: skipped at `confirm`, a
shared-code conflict, listed without View, in Trigon but never imported, ignored, owing a
period, gone from Trigon, and unlinked after a failed period. For each, `explain` names the
state, its date and the command that changes it, and `--json` validates against
docs/schemas/explain.schema.json (the `cli` fixture checks every JSON document).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import load_state

SETTINGS = """
[summary]
task_title = "Monthly summary {period}"
topic = "Bookkeeping"
first_import_date = 2024-10-01
schedule = "last_calendar_day"

[fields]
sales_invoices_created = "Sales invoice created"
"""


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(24, seed=4)


def explain(cli: Invoke, query: str, *extra: str) -> tuple[str, dict[str, Any]]:
    """The text answer (one line per word run) and the JSON document."""
    text = cli("explain", query, *extra)
    assert text.exit_code == 0, text.output
    doc = cli("explain", query, *extra, "--json")
    assert doc.exit_code == 0, doc.output
    return " ".join(text.stdout.split()), json.loads(doc.stdout)["state"]


def staged_rows() -> list[Any]:
    staged = load_state().staged_import
    assert staged is not None
    return list(staged.plan.rows)


def test_every_firm_state_is_named_with_its_date_and_fixing_command(
    sandbox: Running, write_config: Callable[[str], Path], cli: Invoke
) -> None:
    write_config(sandbox_config(sandbox) + SETTINGS)
    store_sandbox_secrets(sandbox, open_store("keyring"))
    assert cli("import-clients").exit_code == 0
    rows = staged_rows()
    conflict = next(r for r in rows if r.action == "conflict" and r.clashes)
    no_view = [r for r in rows if "no_view_permission" in r.flags]
    plain = [r for r in rows if r.action in ("create", "link") and not r.flags]
    skipped, ignored = plain[0], plain[1]
    skip = [arg for r in (skipped, ignored, *no_view) for arg in ("--skip", r.registration_code)]
    assert cli("confirm", "--yes", *skip).exit_code == 0
    today = load_state().history[-1].at[:10]

    # skipped at confirm
    text, state = explain(cli, skipped.registration_code)
    assert state["standing"] == "skipped" and state["since"].startswith(today)
    assert "left out at `trigon-sync confirm`" in text
    assert state["fix"] == "trigon-sync import-clients"
    assert f"confirm --only {skipped.registration_code}" in text

    # the next import lists them again: conflict, without View, never imported, ignored
    assert cli("import-clients").exit_code == 0
    text, state = explain(cli, conflict.trigon_id)
    assert state["standing"] == "conflict" and state["since"].startswith(today)
    assert state["caused_by"] == "trigon-sync import-clients"
    assert state["conflicts_with"] and str(state["conflicts_with"][0]["id"]) in text
    assert state["fix"].startswith("trigon-sync import-clients")

    text, state = explain(cli, no_view[0].registration_code)
    assert state["standing"] == "no_view" and state["since"].startswith(today)
    assert "add View for this firm" in text
    assert state["fix"] == f"trigon-sync confirm --only {no_view[0].registration_code}"

    text, state = explain(cli, skipped.registration_code)
    assert state["standing"] == "not_imported"
    assert "in Trigon but not imported" in text and "skipped at confirm on" in text

    assert cli("ignore", ignored.registration_code).exit_code == 0
    text, state = explain(cli, ignored.registration_code)
    assert state["standing"] == "ignored" and state["since"].startswith(today)
    assert state["caused_by"] == f"trigon-sync ignore {ignored.registration_code}"
    assert state["fix"] == f"trigon-sync ignore {ignored.registration_code} --undo"

    # linked: counted; then a failed period is owed, a firm gone from Trigon, an unlink
    links = sorted(load_state().links.values(), key=lambda link: link.name)
    owing, gone, leaving = links[0], links[1], links[2]
    _, state = explain(cli, owing.registration_code)
    assert state["standing"] == "linked" and state["fix"].startswith("trigon-sync unlink")
    sandbox.world.revoke_view(owing.trigon_id)
    sandbox.world.revoke_view(leaving.trigon_id)
    sandbox.world.remove_firm(gone.trigon_id)
    run = cli("run-monthly", "--today", "31.10.2024")
    assert run.exit_code == ExitCode.PARTIAL, run.output

    text, state = explain(cli, owing.registration_code)
    assert state["standing"] == "owes_period" and state["periods"] == ["2024-10"]
    # owed since the run's Tallinn date (its --today), as status and cron mail say
    assert state["since"] == "2024-10-31" and "View" in text
    # the step that clears it: View granted in Trigon, then the next run retries it
    assert state["fix"].startswith("grant View for this firm") and "run-monthly" in state["fix"]

    text, state = explain(cli, gone.registration_code)
    assert state["standing"] == "gone_from_trigon" and state["periods"] == ["2024-10"]
    assert state["fix"] == f"trigon-sync unlink {gone.registration_code}"

    assert cli("unlink", leaving.registration_code, "--yes").exit_code == 0
    text, state = explain(cli, leaving.registration_code, "--period", "2024-11")
    assert state["standing"] == "unlinked" and state["periods"] == ["2024-10"]
    assert state["caused_by"] == f"trigon-sync unlink {leaving.registration_code}"
    assert "still owed 2024-10: those periods were dropped at the unlink" in text
    assert "unlinked on" in text and "owes" not in text


def test_a_firm_no_record_names_is_still_a_usage_error(
    sandbox: Running, write_config: Callable[[str], Path], cli: Invoke
) -> None:
    write_config(sandbox_config(sandbox) + SETTINGS)
    result = cli("explain", "99999999")
    assert result.exit_code == ExitCode.USAGE
    said = " ".join(result.stderr.split())
    # what it is (never seen by trigon-sync, so not counted) and what to do, for that code
    assert "no firm with registration code 99999999 is known to trigon-sync" in said
    assert "`trigon-sync import-clients`" in said
    assert "`trigon-sync confirm --only 99999999`" in said


def test_a_firm_left_out_at_confirm_is_explained_after_the_plan_is_gone(
    sandbox: Running, write_config: Callable[[str], Path], cli: Invoke
) -> None:
    """confirm consumes the staged plan; a conflict and a firm without View that it left
    out are still named, with when, why and the command that imports them."""
    write_config(sandbox_config(sandbox) + SETTINGS)
    store_sandbox_secrets(sandbox, open_store("keyring"))
    assert cli("import-clients").exit_code == 0
    rows = staged_rows()
    conflict = next(r for r in rows if r.action == "conflict" and r.clashes)
    no_view = next(r for r in rows if "no_view_permission" in r.flags)
    assert cli("confirm", "--yes").exit_code == 0
    assert load_state().staged_import is None  # the plan that said why is gone
    today = load_state().history[-1].at[:10]

    text, state = explain(cli, conflict.trigon_id)
    assert state["standing"] == "conflict" and state["since"].startswith(today)
    assert "was a conflict when `trigon-sync confirm` ran" in text
    assert state["conflicts_with"] and str(state["conflicts_with"][0]["id"]) in text
    assert state["fix"].startswith("trigon-sync import-clients")

    text, state = explain(cli, no_view.registration_code)
    assert state["standing"] == "no_view" and state["since"].startswith(today)
    assert "may not View it" in text and "Add View for this firm" in text
    assert state["fix"] == f"trigon-sync confirm --only {no_view.registration_code}"
