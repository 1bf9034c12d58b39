"""`trigon-sync unlink`: stop counting one client, asked first, recorded in history."""

from __future__ import annotations

import datetime as dt

from typer.testing import CliRunner

from trigon_sync.cli.app import app
from trigon_sync.store.state import ClientLink, load_state, locked_state


def _link_two() -> None:
    with locked_state() as session:
        for trigon_id, code, name, uku_id in (
            ("f1", "10137319", "Alpha OÜ", 101),
            ("f2", "10000005", "Beta AS", 102),
        ):
            session.state.links[trigon_id] = ClientLink(
                trigon_id, code, name, uku_id, dt.date(2024, 10, 1)
            )
        session.save()


def test_unlink_with_yes_removes_only_that_link_and_records_it():
    """The named client is unlinked, the other stays, and history says who was removed."""
    _link_two()
    result = CliRunner().invoke(app, ["unlink", "10137319", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Unlinked Alpha OÜ (10137319)" in result.output
    # the firm now joins the nightly "not linked" warning: the way to stop that is named
    assert "`trigon-sync ignore 10137319` stops that" in " ".join(result.output.split())
    state = load_state()
    assert list(state.links) == ["f2"]
    assert state.history[-1].command == "unlink"
    assert state.history[-1].details["trigon_id"] == "f1"


def test_unlink_without_a_terminal_or_yes_changes_nothing():
    """Cron-like: no terminal to ask on and no --yes -> exit 2, both links kept."""
    _link_two()
    result = CliRunner().invoke(app, ["unlink", "f1"])
    assert result.exit_code == 2
    assert sorted(load_state().links) == ["f1", "f2"]


def test_unlink_of_an_unknown_code_is_one_clear_line():
    """A code no linked client has is a usage error that says where to look."""
    _link_two()
    result = CliRunner().invoke(app, ["unlink", "99999999", "--yes"])
    assert result.exit_code == 2
    assert "no linked client has the registration code or Trigon id" in result.output
    assert sorted(load_state().links) == ["f1", "f2"]


def test_unlink_names_the_periods_the_client_still_owed():
    """A client that owes periods: unlink says which, and that they stop being retried;
    a waived one is not among them."""
    from trigon_sync.store import owed

    _link_two()
    at = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    owed.owe("f1", "2024-10", "no View", at)
    owed.owe("f1", "2024-11", "no View", at)
    owed.owe("f1", "2024-09", "no View", at)
    owed.waive("f1", "2024-09", "agreed with the client", at)
    owed.owe("f2", "2024-10", "no View", at)
    result = CliRunner().invoke(app, ["unlink", "10137319", "--yes"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "Alpha OÜ still owed 2024-10, 2024-11" in said and "no longer retried" in said
    assert "2024-09" not in said
