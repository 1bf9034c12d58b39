"""What ``import-clients`` and ``confirm`` print: the plan table, the summaries, the result.

Rendering only: the plan and the result come from ``clients/importing.py``
(``clients/confirm_results.py``); the commands in
``import_cmd.py`` call these once their work is done.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from trigon_sync.cli import output
from trigon_sync.clients.confirm_results import ConfirmResult, Outcome
from trigon_sync.clients.plan import select_rows
from trigon_sync.errors import PartialFailure
from trigon_sync.records.import_plan import Action, Flag, ImportPlan, PlanRow

NEXT_STEPS = "Next: assign managers and workflows in Uku; then `trigon-sync map-fields`."
REGISTER_NOT_CHECKED = (
    "Business Register not checked (no register file): only check digits were verified. "
    "Run `trigon-sync register update` or pass --register FILE."
)

ACTION_TEXT = {
    Action.CREATE: "create",
    Action.LINK: "link",
    Action.LINKED: "linked",
    Action.MISMATCH: "mismatch",
    Action.CONFLICT: "conflict",
}
ACTION_STYLE = {
    Action.CREATE: "green",
    Action.LINK: "cyan",
    Action.LINKED: "dim",
    Action.MISMATCH: "bold red",
    Action.CONFLICT: "bold red",
}


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
    if row.action in (Action.CONFLICT, Action.MISMATCH) and row.reason:
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


def plan_table(plan: ImportPlan, ignored: set[str] | frozenset[str] = frozenset()) -> Table:
    """The staged plan, one row per Trigon firm; ☑ marks what `confirm` applies."""
    table = Table(title="Client import plan (staged; nothing written to Uku yet)")
    table.add_column("☑", justify="center", no_wrap=True)
    table.add_column("Name", min_width=16)
    table.add_column("Reg. code", no_wrap=True)  # 8 digits; the plan fits 80 columns
    table.add_column("Action", no_wrap=True)
    table.add_column("Register", justify="center", no_wrap=True)
    table.add_column("Notes")
    chosen = select_rows(plan).apply  # what `confirm` with no option applies
    for row in plan.rows:
        applies = row in chosen
        table.add_row(
            Text("☑" if applies else "☐", style="green" if applies else "dim"),
            Text(row.name),
            Text(row.registration_code),
            Text(ACTION_TEXT[row.action], style=ACTION_STYLE[row.action]),
            _register_cell(row, plan.register_checked),
            _notes(row, row.trigon_id in ignored),
        )
    return table


def plan_summary_line(plan: ImportPlan) -> str:
    """``300 firms: 296 to create, 2 to link, …`` plus the flags that occur.

    "to create" and "to link" count what ``confirm`` with no option does (the ticked
    rows): a firm without View is not selected by default, so it is counted apart."""
    summary = plan.summary
    actions = summary.actions
    chosen = select_rows(plan)
    line = (
        f"{summary.total} firm(s): {len(chosen.creates)} to create, "
        f"{len(chosen.links)} to link, {actions[Action.LINKED]} already linked, "
        f"{actions[Action.CONFLICT]} conflict(s) (never applied)"
    )
    if chosen.unviewable:
        line += f", {len(chosen.unviewable)} left out (no View; `confirm --include CODE` takes one)"
    if actions[Action.MISMATCH]:
        line += (
            f", {actions[Action.MISMATCH]} linked but mismatched (no task is written for "
            "them until resolved; see each row's reason)"
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


def print_plan_summary(plan: ImportPlan) -> None:
    """The counts line and what to do next."""
    console = output.stdout
    console.print(plan_summary_line(plan), markup=False)
    if not plan.register_checked:
        console.print(REGISTER_NOT_CHECKED, style="yellow", markup=False)
    actions = plan.summary.actions
    if actions[Action.CREATE] or actions[Action.LINK]:
        console.print(
            "Staged. Review the list, then run `trigon-sync confirm` "
            "(--skip CODE leaves a firm out, --only CODE imports just that one; a firm "
            "without View is left out unless --include CODE).",
            markup=False,
        )
    elif actions[Action.CONFLICT] or actions[Action.MISMATCH]:
        console.print(
            "Nothing to import until the conflicts and mismatches are resolved in Trigon or "
            "Uku (each row's reason says how).",
            markup=False,
        )
    else:
        console.print("Every firm is already linked; nothing to import.", markup=False)


def nothing_to_apply(conflicts: tuple[PlanRow, ...], *, as_json: bool) -> None:
    """`confirm` with nothing to create or link: an empty result, never an error."""
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


def report_confirm(result: ConfirmResult, *, as_json: bool) -> None:
    """The result of `confirm`; failed rows make it a PartialFailure (exit code) after printing."""
    failed = result.failed
    for note in result.notes:  # on stderr with --json too: cron mails it
        output.line(f"note: {note}")
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
