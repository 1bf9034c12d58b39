"""``import-clients`` and ``confirm``: Trigon firms into Uku, reviewed first.

``import-clients`` only reads (both APIs) and stages the plan in state.toml; ``confirm``
is the one command that writes Uku clients, and only after the counts were shown and
accepted (or ``--yes``). The work itself lives in ``clients/importing.py`` /
``clients/plan.py``; what is printed in ``import_view.py``; ``clients``, ``unlink`` and
``ignore`` in ``clients_cmd.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)

from trigon_sync import clock
from trigon_sync.business_register.index import RegisterIndex
from trigon_sync.business_register.source import choose_register, fresh_register, register_url
from trigon_sync.cli import output
from trigon_sync.cli.connections import trigon_client, uku_client
from trigon_sync.cli.import_view import (
    REGISTER_NOT_CHECKED,
    nothing_to_apply,
    plan_table,
    print_plan_summary,
    report_confirm,
)
from trigon_sync.cli.register_cmd import progress_bar
from trigon_sync.clients.confirm_results import RowCallback, RowResult
from trigon_sync.clients.importing import (
    Step,
    apply_plan,
    build_plan,
    find_manager,
    stage_plan,
    staged_plan,
)
from trigon_sync.clients.plan import select_rows
from trigon_sync.errors import AuthError, UsageError
from trigon_sync.records.import_plan import Flag, PlanRow
from trigon_sync.settings.config import Config
from trigon_sync.store import paths
from trigon_sync.store.config_file import load_config
from trigon_sync.store.state import locked_state
from trigon_sync.uku.settling import Settler

IMPORT_EXAMPLE = (
    "Example: trigon-sync import-clients --register ettevotja_rekvisiidid__lihtandmed.csv.zip"
)
CONFIRM_EXAMPLE = "Example: trigon-sync confirm --skip 10137319 --manager mari@firm.ee"


def flagged_warning(row: PlanRow) -> str:
    """The one warning line ``confirm`` prints for a selected firm that is flagged."""
    why = {
        Flag.NO_VIEW_PERMISSION: "the Trigon user may not View it (every period would be owed "
        "until View is granted)",
        Flag.NOT_IN_REGISTER: "it is not in the Business Register (red X)",
        Flag.BAD_CHECK_DIGIT: "its registration code has a bad check digit",
    }
    reasons = "; ".join(why[flag] for flag in row.flags if flag in why)
    return f"warning: {row.name} ({row.registration_code}) is selected although {reasons}"


# --------------------------------------------------------------------------- import-clients


@contextmanager
def _reading_progress() -> Iterator[Step | None]:
    """A spinner naming what is being read, on a terminal only (cron gets nothing)."""
    if not output.stdout.is_terminal:
        yield None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=output.stdout, transient=True) as progress:
        task = progress.add_task("Starting", total=None)

        def step(what: str) -> None:
            progress.update(task, description=f"{what}…")

        yield step


def register_index(
    register: Path | None, config: Config, *, download: bool, scratch: Path | None = None
) -> RegisterIndex | None:
    """The register to check codes against, downloaded first when missing or stale.

    A failed download is one ``warning:`` line on stderr (cron mail), never a failed import.
    With ``scratch`` (a dry run) a download goes there and is indexed without a cache.
    """
    plan = choose_register(
        register, config.register, download=download, now=clock.now().timestamp()
    )
    with progress_bar() as on_progress:
        source = fresh_register(
            plan, register_url(config.register.url), on_progress=on_progress, dest_dir=scratch
        )
    if source.warning is not None:
        output.line(f"warning: {source.warning}")
    if source.path is None:
        return None
    # a bad file given or configured fails here
    scratched = source.downloaded and scratch is not None
    index = RegisterIndex.build(source.path) if scratched else RegisterIndex.load(source.path)
    if source.downloaded and output.stdout.is_terminal:
        output.stderr.print(
            f"Business Register file downloaded ({len(index):,} companies).", markup=False
        )
    return index


def import_clients(
    register: Path | None = typer.Option(
        None,
        "--register",
        metavar="FILE",
        help="The Business Register zip to check codes against (default: [register] file "
        "in config, else the downloaded copy, fetched when missing or older than "
        "[register] max_age_days, 7 by default).",
        dir_okay=False,
    ),
    no_download: bool = typer.Option(
        False,
        "--no-register-download",
        help="Do not download the register file; use what is there (or check digits only). "
        "Config: [register] download = false.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per firm."),
    owners: list[str] = typer.Option(
        [],
        "--owner",
        metavar="CODE=FIRM_ID",
        help="For a registration code several Trigon firms share: the Trigon firm that owns "
        "it (it is imported; the others stay conflicts). Repeatable.",
    ),
) -> None:
    """Read Trigon firms and Uku clients, plan the import and stage it for `confirm`.

    Nothing is written to Uku. Rows are matched on the registration code; conflicts
    (shared or missing codes) need a human and are never applied, unless --owner says
    which firm a shared code belongs to. `trigon-sync ignore` keeps a firm you leave out
    from being announced every month.
    """
    chosen = dict(_owner(text) for text in owners)
    config = load_config()
    if not config.exists:
        raise not_set_up()
    # A named register file that is not usable fails first; otherwise both connections are
    # checked (no network yet) before the register is fetched.
    index = register_index(register, config, download=False) if register is not None else None
    with trigon_client(config) as trigon, uku_client(config) as uku:
        if register is None:
            index = register_index(None, config, download=not no_download)
        with locked_state() as session:
            with _reading_progress() as step:
                plan = build_plan(trigon, uku, session.state, index, on_step=step, owners=chosen)
            index = None  # the plan has its verdicts: the register's ~10 MB go before the save
            stage_plan(session.state, plan, clock.now())
            session.save()
            ignored = set(session.state.ignored)
    if as_json:
        output.print_json(
            [{**row, "ignored": row["trigon_id"] in ignored} for row in plan.to_json()]
        )
        if not plan.register_checked:
            output.stderr.print(f"note: {REGISTER_NOT_CHECKED}", markup=False)
        return
    output.stdout.print(plan_table(plan, ignored))
    print_plan_summary(plan)


def _owner(text: str) -> tuple[str, str]:
    code, sep, firm = text.partition("=")
    if not sep or not code.strip() or not firm.strip():
        raise UsageError(
            f"--owner {text!r} is not CODE=FIRM_ID",
            hint="e.g. --owner 10137319=f13 (the Trigon firm id from import-clients)",
        )
    return code.strip(), firm.strip()


# --------------------------------------------------------------------------- confirm


@contextmanager
def _apply_progress(total: int) -> Iterator[RowCallback | None]:
    if not output.stdout.is_terminal or total == 0:
        yield None
        return
    columns = (
        TextColumn("Importing clients"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=output.stdout, transient=True) as progress:
        task = progress.add_task("confirm", total=total)

        def advance(_result: RowResult) -> None:
            progress.advance(task)

        yield advance


def confirm(
    skip: list[str] = typer.Option(
        [], "--skip", metavar="CODE", help="Leave out the firm with this registration code."
    ),
    only: list[str] = typer.Option(
        [], "--only", metavar="CODE", help="Import only these registration codes."
    ),
    include: list[str] = typer.Option(
        [],
        "--include",
        metavar="CODE",
        help="Also import this firm listed without View permission (left out by default).",
    ),
    manager: str | None = typer.Option(
        None,
        "--manager",
        metavar="EMAIL",
        help="Uku user (by email) set as the default manager of the clients created.",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask; apply the plan."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply the staged import plan: create new Uku clients and link existing ones.

    Safe to run again after a crash: clients already in Uku are found by their code
    and linked, never created twice.
    """
    config = load_config()
    with locked_state() as session:
        plan = staged_plan(session.state)
        selection = select_rows(plan, skip, only, include)
        n_create, n_link = len(selection.creates), len(selection.links)
        unviewable = len(selection.unviewable)
        question = (
            f"Create {n_create} Uku client(s), link {n_link} existing, "
            f"skip {len(selection.skipped) + unviewable} ({len(selection.conflicts)} "
            "conflict(s) are never applied"
            + (f", {unviewable} without View are left out" if unviewable else "")
            + ")?"
        )
        for row in selection.unviewable:
            output.line(
                f"warning: {row.name} ({row.registration_code}) is left out: the Trigon user "
                f"may not View it, so no period could be counted (`--include "
                f"{row.registration_code}` imports it anyway)"
            )
        if not selection.apply:
            nothing_to_apply(selection.conflicts, as_json=as_json)
            return
        for row in selection.flagged:  # one line each, before anything is written
            output.line(flagged_warning(row))
        if not yes and not output.is_interactive():
            output.confirm(question, yes)  # raises: no terminal to ask on, nothing written
        with uku_client(config) as uku:
            manager_id = find_manager(uku.list_members(), manager).id if manager else None
            if not yes and not output.confirm(question, yes):
                raise UsageError("cancelled; nothing was written to Uku")
            with _apply_progress(len(selection.apply)) as on_row:
                result = apply_plan(
                    selection,
                    uku=uku,
                    session=session,
                    now=clock.now(),
                    manager_id=manager_id,
                    on_row=on_row,
                    settler=Settler.for_settings(config.uku),
                )
    report_confirm(result, as_json=as_json)


def not_set_up() -> AuthError:
    """A home with no config.toml has no connection to read through."""
    return AuthError(
        f"trigon-sync is not set up in {paths.home_dir()} (no config.toml)",
        hint="run `trigon-sync connect` and `trigon-sync connect-uku` first "
        "(or pass --home for the home you set up)",
    )


def register(app: Any) -> None:
    """Add the import commands to the root app (entries in cli/app.py)."""
    app.command("import-clients", epilog=IMPORT_EXAMPLE)(import_clients)
    app.command("confirm", epilog=CONFIRM_EXAMPLE)(confirm)
