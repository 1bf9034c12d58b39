"""``clients``, ``unlink`` and ``ignore``: what is linked, and taking a firm out of the count.

``clients`` lists the links the monthly run counts; ``unlink`` removes one (the Uku client
stays); ``ignore`` marks a Trigon firm left out on purpose so run-monthly stops announcing it.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.connections import trigon_client
from trigon_sync.clients.ignoring import ignore, listed_firms, staged_firms, unignore
from trigon_sync.clients.links import linked_by_code_or_id, unlink
from trigon_sync.errors import UsageError
from trigon_sync.records.import_plan import Flag
from trigon_sync.store import owed
from trigon_sync.store.config_file import load_config
from trigon_sync.store.state import load_state, locked_state

CLIENTS_EXAMPLE = "Example: trigon-sync clients --json"
UNLINK_EXAMPLE = "Example: trigon-sync unlink 10137319 --yes"
IGNORE_EXAMPLE = "Example: trigon-sync ignore f13"


def clients(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per client."),
) -> None:
    """List the linked clients: the ones the monthly run counts."""
    links = sorted(
        load_state().links.values(), key=lambda link: (link.name.casefold(), link.trigon_id)
    )
    if as_json:
        output.print_json(
            [
                {
                    "trigon_id": link.trigon_id,
                    "registration_code": link.registration_code,
                    "name": link.name,
                    "uku_client_id": link.uku_client_id,
                    "linked_at": link.linked_at,
                    "not_in_register": Flag.NOT_IN_REGISTER in link.flags,
                    "flags": link.flags,
                }
                for link in links
            ]
        )
        return
    console = output.stdout
    if not links:
        console.print(
            "No clients are linked yet: run `trigon-sync import-clients`, then "
            "`trigon-sync confirm`.",
            markup=False,
        )
        return
    table = Table(title="Linked clients")
    for column in ("Trigon id", "Registration code", "Name", "Uku client", "Register", "Linked"):
        table.add_column(column)
    for link in links:
        mark = Text("✗", style="bold red") if Flag.NOT_IN_REGISTER in link.flags else Text("")
        table.add_row(
            Text(link.trigon_id),
            Text(link.registration_code),
            Text(link.name),
            str(link.uku_client_id),
            mark,
            link.linked_at.strftime("%d.%m.%Y"),
        )
    console.print(table)
    console.print(f"{len(links)} linked client(s).", markup=False)


def unlink_command(
    client: str = typer.Argument(
        ..., metavar="CODE_OR_ID", help="The firm's registration code or Trigon id."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Stop counting one client: remove its link (the Uku client itself stays).

    For a client that left, or whose Trigon View permission is gone for good: the periods
    it still owes are named and dropped for good (not retried, also if it is linked again).
    """
    link = linked_by_code_or_id(load_state(), client)  # an unknown code fails before asking
    question = f"Unlink {link.name} ({link.registration_code})? It gets no more summary tasks."
    if not output.confirm(question, yes):
        raise UsageError("cancelled; nothing was changed")
    with locked_state() as session:
        # read under the lock: exactly the pairs the unlink's record drops (store/owed.py)
        firm = linked_by_code_or_id(session.state, client).trigon_id
        still = [pair.period for pair in owed.pairs(firm=firm)]
        removed = unlink(session.state, client, clock.now())
        session.save()
    output.stdout.print(
        f"Unlinked {removed.name} ({removed.registration_code}); Uku client "
        f"{removed.uku_client_id} is unchanged. Run-monthly now announces the firm as not "
        f"linked; `trigon-sync ignore {removed.registration_code or removed.trigon_id}` stops "
        "that, `trigon-sync import-clients` and `confirm` link it again (counted from the "
        "next period).",
        markup=False,
    )
    if still:
        output.line(
            f"warning: {removed.name} still owed {', '.join(still)}: those periods are dropped "
            "for good, no longer retried, and get no task, also if it is linked again "
            f"(`trigon-sync explain {removed.registration_code or removed.trigon_id}` keeps "
            "the record)"
        )


def ignore_command(
    firm: str = typer.Argument(
        ..., metavar="CODE_OR_ID", help="The firm's registration code or Trigon id."
    ),
    undo: bool = typer.Option(False, "--undo", help="Stop ignoring it (announce it again)."),
) -> None:
    """Mark a Trigon firm you chose not to import, so run-monthly stops announcing it.

    The firm stays in `import-clients` and `status` (as ignored); it gets no summary task.
    Firms are looked up in the staged import plan, else in Trigon's firm list.
    """
    firms = None if undo else staged_firms(load_state())
    if firms is None and not undo:
        with trigon_client(load_config()) as trigon:
            firms = listed_firms(trigon.list_firms())
    with locked_state() as session:
        if undo:
            entry = unignore(session.state, firm, clock.now())
            message = f"{entry['name']} is announced again while it is not linked."
        else:
            entry = ignore(session.state, firms or [], firm, clock.now())
            message = (
                f"Ignored {entry['name']} ({entry['registration_code'] or 'no code'}): "
                "run-monthly no longer announces it; "
                f"`trigon-sync ignore {entry['registration_code'] or firm} --undo` reverses this."
            )
        session.save()
    output.line(message, to_stderr=False)  # the name is Trigon's text: one line, never markup


def register(app: Any) -> None:
    """Add the linked-clients commands to the root app (entries in cli/app.py)."""
    app.command("clients", epilog=CLIENTS_EXAMPLE)(clients)
    app.command("unlink", epilog=UNLINK_EXAMPLE)(unlink_command)
    app.command("ignore", epilog=IGNORE_EXAMPLE)(ignore_command)
