"""``map-fields``: the "Data import" settings — which count goes into which Uku field, and when.

Every change is checked before anything is written: mapping targets and the topic
against what Uku has now, dates and schedules locally. Then all of them go into
config.toml in one atomic :func:`~trigon_sync.store.config_file.edit_config` (other keys kept), so
a refused change leaves the file exactly as it was. The state file is never touched:
changing the schedule re-plans from ``last_period_end``, it never moves it.
"""

from __future__ import annotations

import datetime as dt

import typer

from trigon_sync.cli import output
from trigon_sync.cli.connections import uku_client
from trigon_sync.cli.mapfields_changes import DAY_RULE, summary_changes, write_settings
from trigon_sync.cli.mapfields_view import print_next_import, show_settings
from trigon_sync.cli.mapfields_walkthrough import describe_changes, walk_through
from trigon_sync.cli.params import date_value
from trigon_sync.dates import format_ee
from trigon_sync.errors import UsageError
from trigon_sync.records import periods as period_record
from trigon_sync.records.periods import run_in_progress
from trigon_sync.schedule.rules import RULE_KINDS
from trigon_sync.store.config_file import load_config
from trigon_sync.store.state import load_state, locked_state
from trigon_sync.uku.field_mapping import (
    Target,
    change_mapping,
    check_key,
    parse_assignment,
    resolve_topic,
)

EXAMPLE = (
    "Example: trigon-sync map-fields --set sales_invoices_created='Sales invoice created' "
    "--title 'Monthly summary {period}' --topic Bookkeeping --schedule last_work_day "
    "--first-import-date 01.10.2024"
)


def map_fields(
    assignments: list[str] = typer.Option(
        [],
        "--set",
        metavar="KEY=UKU_FIELD",
        help="Map a Trigon field (key) to an Uku number field (name or id). Repeatable.",
    ),
    unsets: list[str] = typer.Option(
        [], "--unset", metavar="KEY", help="Stop importing this Trigon field. Repeatable."
    ),
    show: bool = typer.Option(False, "--show", help="Only show the settings; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the settings as one JSON object."),
    title: str | None = typer.Option(
        None, "--title", help="Summary task title; {period} becomes YYYY-MM."
    ),
    topic: str | None = typer.Option(
        None, "--topic", metavar="NAME_OR_ID", help="Uku topic of the summary tasks."
    ),
    schedule: str | None = typer.Option(
        None, "--schedule", metavar="RULE", help=f"When the import runs: {', '.join(RULE_KINDS)}."
    ),
    day: int | None = typer.Option(
        None, "--day", min=1, max=31, help=f"The day of the following month ({DAY_RULE})."
    ),
    first_import_date: dt.date | None = typer.Option(
        None,
        "--first-import-date",
        metavar="DATE",
        parser=date_value,
        help="The day counting starts (2024-10-01 or 01.10.2024).",
    ),
    auto_complete: bool | None = typer.Option(
        None,
        "--auto-complete/--no-auto-complete",
        help="Mark each summary task finished once its counts are written: with "
        "POST /tasks/{id}/complete where `doctor --probe` found it served, else with the "
        "status PATCH, which skips Uku's finished_at, automations, portal sync and "
        "notifications.",
    ),
) -> None:
    """Map the 14 Trigon counts to Uku task custom fields and set the summary task options.

    Without options: an interactive mapping on a terminal, the current settings otherwise.
    """
    config = load_config()
    sets = [parse_assignment(text) for text in assignments]
    unset_keys = [check_key(key) for key in unsets]
    both = sorted({key for key, _ in sets} & set(unset_keys))
    if both:
        raise UsageError(f"{', '.join(both)}: both --set and --unset given; choose one")
    summary = summary_changes(config, title, schedule, day, first_import_date, auto_complete)
    mapping_change = bool(sets or unset_keys)
    changing = mapping_change or topic is not None or bool(summary)
    if show and changing:
        raise UsageError("--show only shows the settings", hint="drop --show to change them")
    interactive = not changing and not show and not as_json and output.is_interactive()

    new_mapping: dict[str, Target] | None = None
    stored_topic: Target | None = None
    if mapping_change or topic is not None or interactive:
        with uku_client(config) as uku:
            uku_fields = uku.list_custom_fields("task")
            if topic is not None:
                _, stored_topic = resolve_topic(topic, uku.list_topics())
            if interactive:
                proposal = walk_through(config, uku, uku_fields)
                changes = describe_changes(config, proposal)
                if not changes:
                    output.stdout.print("Nothing was changed.", markup=False)
                    return
                output.stdout.print("These settings will change:", markup=False)
                for line in changes:
                    output.stdout.print(f"  {line}", markup=False)
                if not output.ask_yes_no("Save these changes?", default=True):
                    output.stdout.print("Nothing was changed.", markup=False)
                    return
                new_mapping, stored_topic = proposal.mapping, proposal.topic
                summary = proposal.summary
            elif mapping_change:
                new_mapping = change_mapping(
                    config.fields, uku_fields, sets=sets, unsets=unset_keys
                )
    if new_mapping is not None or stored_topic is not None or summary:
        # Under the state lock: never while run-monthly is writing (that is exit 6, busy).
        with locked_state() as session:
            write_settings(new_mapping, stored_topic, summary)
            open_period = period_record.open_run(session.state)
            open_topic = period_record.open_topic(session.state)
        config = load_config()
        title_now = config.summary.task_title
        if "task_title" in summary and title_now and "{period}" not in title_now:
            output.line(
                f"warning: the task title {title_now!r} has no {{period}}: every month's "
                "task gets the same title in Uku (add {period} to tell the months apart)"
            )
        if not as_json:
            output.stdout.print(f"Saved to {config.path}.", markup=False)
            if open_period is not None and (stored_topic is not None or "task_title" in summary):
                where = f"topic {open_topic}" if open_topic is not None else "its topic"
                output.stdout.print(
                    f"Note: period {open_period.period} is unfinished; its remaining tasks go "
                    f"into {where}, where its tasks were written, and tasks already in Uku "
                    "keep their title. The new settings apply fully from the next period.",
                    markup=False,
                )
    state = load_state()
    if not as_json and {"schedule", "day", "first_import_date"} & summary.keys():
        print_next_import(config, state)
        counted = state.last_period_end
        if "first_import_date" in summary and (counted is not None or run_in_progress(state)):
            reached = f"reached {format_ee(counted)}" if counted else "started"
            output.stdout.print(
                f"Note: the first import date no longer has an effect: counting already "
                f"{reached}, and the next window starts where the last one ended.",
                markup=False,
            )
    show_settings(config, state, as_json=as_json)
