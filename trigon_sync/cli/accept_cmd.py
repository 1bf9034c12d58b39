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
from trigon_sync.store import ledger, owed
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
        code = link.registration_code or link.trigon_id
        if not _was_held(session.state.history, link.trigon_id, period):
            # accept releases a hold (README, docs/operations.md); an acceptance recorded
            # for a client never held would read in the ledger as a checked count
            raise UsageError(
                f"{link.name} ({code}) was not held for review in {period}: there is "
                "nothing to accept, and nothing was recorded",
                hint="accept releases a client run-monthly held with `[anomalies] hold = "
                "true` (it names the client and the accept command); `trigon-sync status` "
                "lists the held ones",
            )
        now = clock.now()
        ledger.LedgerWriter().accept(period, link.trigon_id, now)
        session.state.record(now, "accept", "ok", firm=link.trigon_id, period=period)
        session.save()
    output.stdout.print(
        f"Accepted {link.name} ({code}) for {period}: the next run-monthly writes its task "
        "even though its counts are flagged.",
        markup=False,
        soft_wrap=True,
    )


def _was_held(history: Sequence[RunRecord], firm: str, period: str) -> bool:
    """Whether a monthly run held ``firm`` back in ``period``: its owed pair's reason says
    so (every held client owes its period, however many failed), or a run record names it
    held (a record of an older version names no period: it counts for any)."""
    pair = owed.pair(firm, period)
    if pair is not None and pair.status == "owed" and pair.reason.startswith(HELD):
        return True
    return any(
        f.firm == firm and f.period in (None, period) and f.reason.startswith(HELD)
        for record in history
        if record.is_monthly
        for f in record.failures
    )
