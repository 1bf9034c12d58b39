"""``import-clients``, ``confirm`` and ``clients``: Trigon firms into Uku, reviewed first.

``import-clients`` only reads (both APIs) and stages the plan in state.toml; ``confirm``
is the one command that writes Uku clients, and only after the counts were shown and
accepted (or ``--yes``). ``clients`` lists what is linked, which is what the monthly run
counts. The work itself lives in ``client_import.py`` / ``client_import_plan.py``; this module
renders it.
"""

from __future__ import annotations

import time
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
from rich.table import Table
from rich.text import Text

from trigon_sync import clock, paths
from trigon_sync.business_register import RegisterIndex
from trigon_sync.cli import output
from trigon_sync.cli.register_cmd import progress_bar
from trigon_sync.client_import import (
    ConfirmResult,
    Outcome,
    RowCallback,
    RowResult,
    Step,
    apply_plan,
    build_plan,
    find_manager,
    linked_by_code_or_id,
    stage_plan,
    staged_plan,
    unlink,
)
from trigon_sync.client_import_plan import select_rows
from trigon_sync.client_import_rows import Action, Flag, ImportPlan, PlanRow
from trigon_sync.config import Config, load_config
from trigon_sync.connections import trigon_client, uku_client
from trigon_sync.errors import AuthError, PartialFailure, UsageError
from trigon_sync.ignored import ignore, staged_firms, unignore
from trigon_sync.register_source import choose_register, fresh_register, register_url
from trigon_sync.state import load_state, locked_state
from trigon_sync.uku.settling import Settler

IMPORT_EXAMPLE = (
    "Example: trigon-sync import-clients --register ettevotja_rekvisiidid__lihtandmed.csv.zip"
)
CONFIRM_EXAMPLE = "Example: trigon-sync confirm --skip 10137319 --manager mari@firm.ee"
CLIENTS_EXAMPLE = "Example: trigon-sync clients --json"
UNLINK_EXAMPLE = "Example: trigon-sync unlink 10137319 --yes"
IGNORE_EXAMPLE = "Example: trigon-sync ignore f13"
NEXT_STEPS = "Next: assign managers and workflows in Uku; then `trigon-sync map-fields`."
REGISTER_NOT_CHECKED = (
    "Business Register not checked (no register file): only check digits were verified. "
    "Run `trigon-sync register update` or pass --register FILE."
)

_ACTION_TEXT = {
    Action.CREATE: "create",
    Action.LINK: "link",
    Action.LINKED: "linked",
    Action.CONFLICT: "conflict",
}
_ACTION_STYLE = {
    Action.CREATE: "green",
    Action.LINK: "cyan",
    Action.LINKED: "dim",
    Action.CONFLICT: "bold red",
}


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
    output.stdout.print(_plan_table(plan, ignored))
    _print_plan_summary(plan)


def _owner(text: str) -> tuple[str, str]:
    code, sep, firm = text.partition("=")
    if not sep or not code.strip() or not firm.strip():
        raise UsageError(
            f"--owner {text!r} is not CODE=FIRM_ID",
            hint="e.g. --owner 10137319=f13 (the Trigon firm id from import-clients)",
        )
    return code.strip(), firm.strip()


def _register_cell(row: PlanRow, checked: bool) -> Text:
    if not checked:
        return Text("not checked", style="dim")
    if row.has(Flag.NOT_IN_REGISTER):
        return Text("✗", style="bold red")
    return Text("✓", style="green")


def _notes(row: PlanRow, ignored: bool = False) -> Text:
    notes = Text()

    def add(part: str, style: str = "") -> None:
        if notes:
            notes.append("; ")
        notes.append(part, style=style)

    if ignored:
        add("ignored (`trigon-sync ignore --undo` to import it)", "dim")
    if row.action is Action.CONFLICT and row.reason:
        add(row.reason, "red")
    if row.has(Flag.BAD_CHECK_DIGIT):
        add("bad check digit", "red")
    if row.has(Flag.NO_VIEW_PERMISSION):
        add("no View permission", "yellow")
    if row.uku_client_id is not None:
        add(f"Uku client {row.uku_client_id}")
    if row.has(Flag.NAME_DIFFERS) and row.uku_name:
        add(f"Uku name: {row.uku_name}", "yellow")
    return notes


def _plan_table(plan: ImportPlan, ignored: set[str] | frozenset[str] = frozenset()) -> Table:
    table = Table(title="Client import plan (staged; nothing written to Uku yet)")
    table.add_column("☑", justify="center", no_wrap=True)
    table.add_column("Name", min_width=16)
    table.add_column("Reg. code", no_wrap=True)  # 8 digits; the plan fits 80 columns
    table.add_column("Action", no_wrap=True)
    table.add_column("Register", justify="center", no_wrap=True)
    table.add_column("Notes")
    for row in plan.rows:
        applies = row.action in (Action.CREATE, Action.LINK)
        table.add_row(
            Text("☑" if applies else "☐", style="green" if applies else "dim"),
            Text(row.name),
            Text(row.registration_code),
            Text(_ACTION_TEXT[row.action], style=_ACTION_STYLE[row.action]),
            _register_cell(row, plan.register_checked),
            _notes(row, row.trigon_id in ignored),
        )
    return table


def plan_summary_line(plan: ImportPlan) -> str:
    """``300 firms: 296 to create, 2 to link, …`` plus the flags that occur."""
    summary = plan.summary
    actions = summary.actions
    line = (
        f"{summary.total} firm(s): {actions[Action.CREATE]} to create, "
        f"{actions[Action.LINK]} to link, {actions[Action.LINKED]} already linked, "
        f"{actions[Action.CONFLICT]} conflict(s) (never applied)"
    )
    labels = {
        Flag.NOT_IN_REGISTER: "not in the register ✗",
        Flag.BAD_CHECK_DIGIT: "bad check digit",
        Flag.NO_VIEW_PERMISSION: "without View permission",
        Flag.NAME_DIFFERS: "name differs in Uku",
    }
    flagged = [f"{n} {labels[flag]}" for flag, n in summary.flags.items() if n]
    if flagged:
        line += "; " + ", ".join(flagged)
    return line + "."


def _print_plan_summary(plan: ImportPlan) -> None:
    console = output.stdout
    console.print(plan_summary_line(plan), markup=False)
    if not plan.register_checked:
        console.print(REGISTER_NOT_CHECKED, style="yellow", markup=False)
    actions = plan.summary.actions
    if actions[Action.CREATE] or actions[Action.LINK]:
        console.print(
            "Staged. Review the list, then run `trigon-sync confirm` "
            "(--skip CODE leaves a firm out, --only CODE imports just that one).",
            markup=False,
        )
    elif actions[Action.CONFLICT]:
        console.print(
            "Nothing to import until the conflicts are resolved in Trigon or Uku.", markup=False
        )
    else:
        console.print("Every firm is already linked; nothing to import.", markup=False)


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
        selection = select_rows(plan, skip, only)
        n_create, n_link = len(selection.creates), len(selection.links)
        question = (
            f"Create {n_create} Uku client(s), link {n_link} existing, "
            f"skip {len(selection.skipped)} ({len(selection.conflicts)} conflict(s) "
            "are never applied)?"
        )
        if not selection.apply:
            _nothing_to_apply(selection.conflicts, as_json=as_json)
            return
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
                    settler=Settler(config.uku.settle_seconds, clock.now, time.sleep),
                )
    _report(result, as_json=as_json)


def _nothing_to_apply(conflicts: tuple[PlanRow, ...], *, as_json: bool) -> None:
    if as_json:
        output.print_json({"counts": {}, "rows": [], "skipped": [], "warnings": []})
        return
    line = "Nothing to create or link in the staged plan"
    if conflicts:
        line += f" ({len(conflicts)} conflict(s) need a human)"
    output.stdout.print(line + ".", markup=False)


def confirm_summary_line(result: ConfirmResult) -> str:
    """``Created 296 Uku client(s), linked 2 existing, …`` (only the parts that occurred)."""
    counts = result.counts()
    parts = [
        f"Created {counts[Outcome.CREATED]} Uku client(s)",
        f"linked {counts[Outcome.LINKED]} existing",
    ]
    if counts[Outcome.FOUND]:
        parts.append(
            f"linked {counts[Outcome.FOUND]} found already in Uku (from an interrupted run "
            "or added by hand)"
        )
    if counts[Outcome.ALREADY_LINKED]:
        parts.append(f"{counts[Outcome.ALREADY_LINKED]} were already linked")
    parts.append(f"skipped {counts['skipped']}")
    if counts["conflicts"]:
        parts.append(f"{counts['conflicts']} conflict(s) not applied")
    if counts[Outcome.FAILED]:
        parts.append(f"{counts[Outcome.FAILED]} failed")
    return ", ".join(parts) + "."


def _report(result: ConfirmResult, *, as_json: bool) -> None:
    failed = result.failed
    if as_json:
        output.print_json(result.to_json())
    else:
        console = output.stdout
        console.print(confirm_summary_line(result), markup=False)
        for warning in result.warnings:
            output.line(f"Uku warning: {warning.message}")
        if failed:
            table = Table(title="Not imported")
            for column in ("Name", "Registration code", "Reason"):
                table.add_column(column)
            for item in failed:
                table.add_row(
                    Text(item.row.name), Text(item.row.registration_code), Text(item.reason or "")
                )
            console.print(table)
        if result.selection.conflicts:
            console.print(
                "Conflicts need a human: fix the duplicate or missing code in Trigon or Uku, "
                "then run `trigon-sync import-clients` again.",
                markup=False,
            )
        console.print(NEXT_STEPS, markup=False)
    if failed:
        raise PartialFailure(
            f"{len(failed)} client(s) could not be imported; the others are done",
            result=result,
            hint="fix what the reasons say, then run `trigon-sync confirm` again "
            "(the staged plan is kept; done rows are not repeated)",
        )


# --------------------------------------------------------------------------- clients


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
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Stop counting one client: remove its link (the Uku client itself stays).

    For a client that left, or whose Trigon View permission is gone for good: the next
    run-monthly then completes an unfinished period without it.
    """
    link = linked_by_code_or_id(load_state(), client)  # an unknown code fails before asking
    question = f"Unlink {link.name} ({link.registration_code})? It gets no more summary tasks."
    if not output.confirm(question, yes):
        raise UsageError("cancelled; nothing was changed")
    with locked_state() as session:
        removed = unlink(session.state, client, clock.now())
        session.save()
    output.stdout.print(
        f"Unlinked {removed.name} ({removed.registration_code}); Uku client "
        f"{removed.uku_client_id} is unchanged. `trigon-sync import-clients` and `confirm` "
        "link it again.",
        markup=False,
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
            firms = [(f.id, f.name, f.registration_code or "") for f in trigon.list_firms()]
    with locked_state() as session:
        if undo:
            entry = unignore(session.state, firm, clock.now())
            message = f"{entry['name']} is announced again while it is not linked."
        else:
            entry = ignore(session.state, firms or [], firm, clock.now())
            message = (
                f"Ignored {entry['name']} ({entry['registration_code'] or 'no code'}): "
                "run-monthly no longer announces it; `trigon-sync ignore --undo` reverses this."
            )
        session.save()
    output.line(message, to_stderr=False)  # the name is Trigon's text: one line, never markup


def not_set_up() -> AuthError:
    """A home with no config.toml has no connection to read through."""
    return AuthError(
        f"trigon-sync is not set up in {paths.home_dir()} (no config.toml)",
        hint="run `trigon-sync connect` and `trigon-sync connect-uku` first "
        "(or pass --home for the home you set up)",
    )


def register(app: Any) -> None:
    """Add the import commands to the root app (one line in cli/app.py)."""
    app.command("import-clients", epilog=IMPORT_EXAMPLE)(import_clients)
    app.command("confirm", epilog=CONFIRM_EXAMPLE)(confirm)
    app.command("clients", epilog=CLIENTS_EXAMPLE)(clients)
    app.command("unlink", epilog=UNLINK_EXAMPLE)(unlink_command)
    app.command("ignore", epilog=IGNORE_EXAMPLE)(ignore_command)
