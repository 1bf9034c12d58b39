"""``accept``: release a client that ``[anomalies] hold = true`` keeps from being billed.

The decision goes to the ledger (monthly/review.py reads it at the next run) and to the history,
under the state lock so it cannot interleave with a run.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.params import period_value
from trigon_sync.clients.lookup import find_link
from trigon_sync.errors import UsageError
from trigon_sync.monthly.review import HELD
from trigon_sync.records.tables import RunRecord
from trigon_sync.store import ledger
from trigon_sync.store.state import locked_state

EXAMPLE = "Example: trigon-sync accept 12345678 --period 2024-11"


def accept_command(
    client: str = typer.Argument(
        ..., metavar="CLIENT", help="Registration code, Trigon firm id, or (part of) the name."
    ),
    period: str = typer.Option(
        ..., "--period", metavar="YYYY-MM", parser=period_value, help="The held period."
    ),
) -> None:
    """Accept a flagged client's counts for one period, so run-monthly writes its task.

    Only needed with `[anomalies] hold = true` in config.toml: a client whose counts look
    wrong (all zero after activity, or far above its usual level) is then held back, and
    its period stays open, until accepted here. Recorded in the ledger and the history.
    """
    with locked_state() as session:
        link = find_link(session.state, client)
        if link is None:
            raise UsageError(
                f"no linked client matches {client!r}",
                hint="see `trigon-sync clients` for the linked clients",
            )
        now = clock.now()
        ledger.LedgerWriter().accept(period, link.trigon_id, now)
        held = _was_held(session.state.history, link.trigon_id)
        session.state.record(now, "accept", "ok", firm=link.trigon_id, period=period)
        session.save()
    code = link.registration_code or link.trigon_id
    what = (
        "the next run-monthly writes its task even though its counts are flagged"
        if held
        else "it was not held in the last run; if its counts are flagged, the next "
        "run-monthly writes its task anyway"
    )
    output.stdout.print(
        f"Accepted {link.name} ({code}) for {period}: {what}.", markup=False, soft_wrap=True
    )


def _was_held(history: Sequence[RunRecord], firm: str) -> bool:
    """Whether the newest monthly run held ``firm`` back (its failure reason says so)."""
    for record in reversed(history):
        if record.is_monthly:
            return any(f.firm == firm and f.reason.startswith(HELD) for f in record.failures)
    return False
