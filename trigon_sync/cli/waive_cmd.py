"""``waive``: an admin gives up one owed (client, period): it gets no task and is no
longer retried. Recorded with the reason in the records database (``client_periods``) and
in the history, under the state lock so it cannot interleave with a run."""

from __future__ import annotations

import typer

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.params import period_value
from trigon_sync.clients.lookup import find_link
from trigon_sync.dates import format_ee_day
from trigon_sync.errors import UsageError
from trigon_sync.store import owed
from trigon_sync.store.state import locked_state

EXAMPLE = 'Example: trigon-sync waive 12345678 --period 2024-10 --reason "left in September"'


def _why_not(pair: owed.OwedPair | None) -> str:
    """Why a pair the records hold cannot be waived (nothing for a pair never owed)."""
    if pair is None:
        return ""
    if pair.status == "done":
        return f": its task was made on {format_ee_day(pair.updated_at)}"
    if pair.status == "dropped":
        return f": it was dropped when the client was unlinked on {format_ee_day(pair.updated_at)}"
    return ""


def waive_command(
    client: str = typer.Argument(
        ..., metavar="CLIENT", help="Registration code, Trigon firm id, or (part of) the name."
    ),
    period: str = typer.Option(
        ..., "--period", metavar="YYYY-MM", parser=period_value, help="The owed period."
    ),
    reason: str = typer.Option(
        ..., "--reason", metavar="TEXT", help="Why this period gets no task (recorded)."
    ),
) -> None:
    """Give up one owed period of one client: run-monthly stops retrying it.

    A client that failed in a period owes it, and every run retries it first on that
    period's own window; waive it when it will never be billed (the client left, the
    period was invoiced by hand). Recorded with the reason; `explain` shows it. A period
    already waived is left as it was (exit 0, saying when and why).
    """
    if not reason.strip():
        raise UsageError("--reason must say why", hint="e.g. --reason 'invoiced by hand'")
    with locked_state() as session:
        link = find_link(session.state, client)
        if link is None:
            raise UsageError(
                f"no linked client matches {client!r}",
                hint="see `trigon-sync status` for the owed (client, period) pairs",
            )
        now = clock.now()
        if not owed.waive(link.trigon_id, period, reason.strip(), now.date()):
            pair = owed.pair(link.trigon_id, period)
            if pair is not None and pair.status == "waived":  # what was asked holds already
                output.line(
                    f"{link.name} {period} was already waived on "
                    f"{format_ee_day(pair.updated_at)} ({pair.reason}); nothing changed",
                    to_stderr=False,
                )
                return
            raise UsageError(
                f"{link.name} does not owe {period}{_why_not(pair)} (owed periods: "
                f"{', '.join(p.period for p in owed.pairs(firm=link.trigon_id)) or 'none'})",
                hint="only an owed period can be waived",
            )
        session.state.record(
            now, "waive", "ok", firm=link.trigon_id, period=period, reason=reason.strip()
        )
        session.save()
    code = link.registration_code or link.trigon_id
    output.stdout.print(
        f"Waived {period} for {link.name} ({code}): it gets no task and is not retried.",
        markup=False,
        soft_wrap=True,
    )
