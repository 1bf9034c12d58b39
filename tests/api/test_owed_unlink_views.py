"""What people read about an owed pair once its client is unlinked, linked again or the
pair waived (issue 22, item 5): ``explain`` never says an unlinked client "owes" a
period, a pair dropped at the unlink stays dropped after a new link, standings read as
words with the step that changes them, and ``waive`` of a waived pair says so."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from monthly_env import Env
from typer.testing import CliRunner

from trigon_sync.cli.app import app
from trigon_sync.health.status import status
from trigon_sync.store import owed
from trigon_sync.store.state import load_state, locked_state

D = dt.date


def _cli(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def _said(result: Any) -> str:
    return " ".join(result.output.split())


def test_unlink_drops_the_owed_pairs_and_explain_says_so_before_and_after_a_new_link(
    env36: Env, seed36: dict[str, Any]
) -> None:
    """Unlinked while owing 2024-10: explain says the period was dropped at the unlink
    (never "owes"), status and the record agree; linked again, explain shows 2024-10 as
    dropped, the client owes nothing and its standing is linked."""
    firm = sorted(seed36["anomalies"]["no_view"])[0]
    link = load_state().links[firm]
    env36.run(D(2024, 10, 31))
    said = _said(_cli("unlink", link.registration_code, "--yes"))
    assert f"{link.name} still owed 2024-10" in said and "dropped for good" in said
    assert load_state().history[-1].details["dropped_periods"] == ["2024-10"]

    text = _said(_cli("explain", link.registration_code))
    assert "owes" not in text
    assert (
        "state unlinked since" in text
        and "dropped at unlink (no task, not retried) 2024-10" in text
    )
    assert "were dropped at the unlink" in text
    assert firm not in {row.trigon_id for row in status(D(2024, 11, 6)).owed}
    assert owed.pairs(firm=firm) == []  # the other firm without View still owes 2024-10

    with locked_state() as session:  # import-clients and confirm --only link it again
        session.state.links[firm] = link
        session.state.links[firm].linked_at = D(2024, 11, 6)
        session.save()
    explained = json.loads(_cli("explain", link.registration_code, "--json").stdout)
    assert explained["state"]["standing"] == "linked" and explained["state"]["periods"] == []
    [october] = [p for p in explained["periods"] if p["period"] == "2024-10"]
    assert october["verdict"] == "dropped"
    assert "dropped when the client was unlinked on" in october["reason"]
    assert "owes" not in _said(_cli("explain", link.registration_code))


def test_explain_words_the_standing_and_names_view_as_the_fix(
    env36: Env, seed36: dict[str, Any]
) -> None:
    """A client owing a period for lack of View: explain reads "owes a period" (not the
    JSON word) and the change is to grant View in Trigon, after which the next run
    retries; with --period, the summary speaks of that period alone."""
    env36.run(D(2024, 10, 31))
    env36.run(D(2024, 11, 30))
    healthy = next(f for f in load_state().links if f not in seed36["anomalies"]["no_view"])
    hcode = load_state().links[healthy].registration_code
    assert "; 2 period(s) with a task" in _said(_cli("explain", hcode))
    assert "; a task in period 2024-11" in _said(_cli("explain", hcode, "--period", "2024-11"))
    other = sorted(seed36["anomalies"]["no_view"])[1]
    ocode = load_state().links[other].registration_code
    assert "; no task in period 2024-11" in _said(_cli("explain", ocode, "--period", "2024-11"))
    text = _said(_cli("explain", ocode))
    assert "owes_period" not in text and "state linked, owes a period since 31.10.2024" in text
    assert "change grant View for this firm to the Trigon user's role in Trigon; the next" in text
    assert "change trigon-sync run-monthly" not in text


def test_waive_of_a_waived_period_says_when_and_why(env36: Env, seed36: dict[str, Any]) -> None:
    """Waiving the same period again changes nothing, says when and why it was waived,
    and exits 0; a period the client does not owe is still a usage error."""
    firm = sorted(seed36["anomalies"]["no_view"])[0]
    code = load_state().links[firm].registration_code
    env36.run(D(2024, 10, 31))
    _cli("waive", code, "--period", "2024-10", "--reason", "invoiced by hand")
    records = len(load_state().history)
    again = _said(_cli("waive", code, "--period", "2024-10", "--reason", "again"))
    assert (
        "2024-10 was already waived on" in again and "(invoiced by hand); nothing changed" in again
    )
    assert len(load_state().history) == records
    assert owed.pair(firm, "2024-10") is not None
    _cli("waive", code, "--period", "2024-09", "--reason", "x", code=2)
