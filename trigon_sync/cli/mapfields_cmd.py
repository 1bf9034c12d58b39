"""``map-fields``: the "Data import" settings — which count goes into which Uku field, and when.

Every change is checked before anything is written: mapping targets and the topic
against what Uku has now, dates and schedules locally. Then all of them go into
config.toml in one atomic :func:`~trigon_sync.config.edit_config` (other keys kept), so
a refused change leaves the file exactly as it was. The state file is never touched:
changing the schedule re-plans from ``last_period_end``, it never moves it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from rich.markup import escape
from rich.prompt import Confirm, Prompt
from rich.table import Table
from rich.text import Text

from trigon_sync import clock, fields, naming, period_record
from trigon_sync.cli import output
from trigon_sync.cli.params import date_value
from trigon_sync.config import Config, edit_config, load_config, missing_for_monthly, parse_config
from trigon_sync.connections import secret_store, uku_client
from trigon_sync.dates import format_ee, parse_date
from trigon_sync.errors import ConfigError, TrigonSyncError, UsageError
from trigon_sync.mapping import (
    MappingRow,
    Status,
    Target,
    change_mapping,
    check_key,
    count_fields,
    find_topic,
    mapping_rows,
    parse_assignment,
    resolve_topic,
)
from trigon_sync.period_record import run_in_progress
from trigon_sync.schedule import RULE_KINDS, Run
from trigon_sync.secrets import UKU_API_KEY
from trigon_sync.state import State, load_state, locked_state
from trigon_sync.timeline import timeline_for
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.models import CustomField, Topic

EXAMPLE = (
    "Example: trigon-sync map-fields --set sales_invoices_created='Sales invoice created' "
    "--title 'Monthly summary {period}' --topic Bookkeeping --schedule last_work_day "
    "--first-import-date 01.10.2024"
)
DAY_RULE = "day_of_next_month"

_SET_WITH = {
    "summary.task_title": "--title 'Monthly summary {period}'",
    "summary.topic": "--topic NAME",
    "summary.schedule": "--schedule last_work_day",
    "summary.first_import_date": "--first-import-date DD.MM.YYYY",
    "fields": "--set KEY=UKU_FIELD",
}
"""How a user sets each missing setting (config.missing_for_monthly's keys)."""

_STATUS_TEXT: dict[Status, tuple[str, str]] = {
    Status.OK: ("✓", "green"),
    Status.UNMAPPED: ("not imported", "dim"),
    Status.MISSING: ("✗ no such Uku field", "bold red"),
    Status.NOT_NUMBER: ("✗ not a number field", "bold red"),
    Status.AMBIGUOUS: ("✗ name used twice in Uku; use the id", "bold red"),
    Status.DUPLICATE: ("✗ Uku field used twice", "bold red"),
    Status.NOT_CHECKED: ("not checked (Uku not connected)", "yellow"),
}


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
        help="Mark each summary task finished once its counts are written.",
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
    summary = _summary_changes(config, title, schedule, day, first_import_date, auto_complete)
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
                proposal = _interactive(config, uku, uku_fields)
                changes = describe_changes(config, proposal)
                if not changes:
                    output.stdout.print("Nothing was changed.", markup=False)
                    return
                output.stdout.print("These settings will change:", markup=False)
                for line in changes:
                    output.stdout.print(f"  {line}", markup=False)
                if not Confirm.ask("Save these changes?", console=output.stdout, default=True):
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
            _write(new_mapping, stored_topic, summary)
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
        _print_next_import(config, state)
        counted = state.last_period_end
        if "first_import_date" in summary and (counted is not None or run_in_progress(state)):
            reached = f"reached {format_ee(counted)}" if counted else "started"
            output.stdout.print(
                f"Note: the first import date no longer has an effect: counting already "
                f"{reached}, and the next window starts where the last one ended.",
                markup=False,
            )
    _show(config, state, as_json=as_json)


# --------------------------------------------------------------------------- changes


def _summary_changes(
    config: Config,
    title: str | None,
    schedule: str | None,
    day: int | None,
    first_import_date: dt.date | None,
    auto_complete: bool | None,
) -> dict[str, Any]:
    """The ``[summary]`` keys to write (None deletes a key); checked before anything is read."""
    changes: dict[str, Any] = {}
    if title is not None:
        try:
            parse_config({"summary": {"task_title": title}}, config.path)
        except ConfigError as exc:
            problems = "; ".join(p.message for p in exc.problems)
            raise UsageError(f"--title {title!r}: {problems}") from None
        changes["task_title"] = title.strip()
    if schedule is not None and schedule not in RULE_KINDS:
        raise UsageError(
            f"--schedule {schedule!r} is not a schedule", hint=f"use one of {', '.join(RULE_KINDS)}"
        )
    if schedule is not None or day is not None:
        current = config.summary.schedule
        kind = schedule or (current.kind if current else None)
        if day is not None and kind != DAY_RULE:
            raise UsageError(
                f"--day is only used with --schedule {DAY_RULE}",
                hint=f"add --schedule {DAY_RULE}, or drop --day",
            )
        if kind == DAY_RULE:
            day = day or (current.day if current and current.kind == DAY_RULE else None)
            if day is None:
                raise UsageError(
                    f"--schedule {DAY_RULE} needs --day N (the day of the following month)"
                )
        changes["schedule"] = kind
        changes["day"] = day if kind == DAY_RULE else None
    if first_import_date is not None:
        changes["first_import_date"] = first_import_date
    if auto_complete is not None:
        changes["auto_complete"] = auto_complete
    return changes


def _write(
    mapping: dict[str, Target] | None, topic: Target | None, summary: dict[str, Any]
) -> None:
    with edit_config() as raw:
        if mapping is not None:
            raw["fields"] = mapping or None
        if topic is not None or summary:
            section = raw.setdefault("summary", {})
            if topic is not None:
                section["topic"] = topic
            section.update(summary)


def _interactive(config: Config, uku: UkuClient, uku_fields: Sequence[CustomField]) -> Proposal:
    """Walk through the settings, starting from the current ones; Enter keeps each value.

    Every Trigon field is asked in turn (Enter keeps its current target, also an
    unmapped one); then the summary settings still missing (title, topic, schedule,
    first import date) are asked, Enter leaving each unset.
    """
    console = output.stdout
    choices = count_fields(uku_fields)
    if not choices:
        raise UsageError(
            "Uku has no number-type task custom field to receive a count",
            hint="create the fields in Uku first (Settings → Custom fields), then run again",
        )
    menu = Table("No.", "Uku task field (number)", "Id", title="Uku fields that can hold a count")
    for number, uku_field in enumerate(choices, start=1):
        menu.add_row(str(number), Text(uku_field.name), str(uku_field.id))
    console.print(menu)
    console.print(
        "For each Trigon field type the number of its Uku field, '-' to not import it, "
        "or Enter to keep the current setting (shown in brackets).",
        markup=False,
    )
    rows = {row.field.key: row for row in mapping_rows(config.fields, uku_fields)}
    mapping: dict[str, Target] = {}
    receives: dict[int, str] = {}  # Uku field id -> the Trigon key it now receives
    for trigon_field in fields.FIELDS:
        row = rows[trigon_field.key]
        current = _current_text(row, choices)
        hint = _same_name_hint(trigon_field, choices) if row.target is None else ""
        while True:
            answer = Prompt.ask(
                f"{escape(trigon_field.label_en)} / {escape(trigon_field.label_et)} "
                f"[dim]({trigon_field.key})[/] {escape(f'[{current}]{hint}')}",
                console=console,
                default="",
                show_default=False,
            ).strip()
            if answer == "":
                if row.target is not None:
                    mapping[trigon_field.key] = row.target
                    if row.uku_field is not None:
                        receives.setdefault(row.uku_field.id, trigon_field.key)
                break
            picked = _pick(answer, choices)
            if picked is False:
                console.print(
                    f"Type a number from 1 to {len(choices)}, '-', or Enter.", markup=False
                )
                continue
            if picked is None:
                break
            assert isinstance(picked, CustomField)  # noqa: S101 - _pick's third case
            owner = receives.get(picked.id)
            if owner is not None:
                console.print(
                    f"That Uku field already receives {fields.by_key(owner).label_en}; "
                    "each count needs its own field.",
                    markup=False,
                )
                continue
            receives[picked.id] = trigon_field.key
            if picked == row.uku_field and row.target is not None:
                mapping[trigon_field.key] = row.target  # same field: keep how it was written
            else:
                mapping[trigon_field.key] = (
                    picked.name if _unique_name(picked, uku_fields) else picked.id
                )
            break
    return Proposal(
        mapping=mapping, topic=_ask_topic(config, uku), summary=_ask_missing_summary(config)
    )


@dataclass(frozen=True)
class Proposal:
    """What interactive map-fields would write: the whole mapping and the summary changes."""

    mapping: dict[str, Target]
    topic: Target | None
    summary: dict[str, Any]


def _current_text(row: MappingRow, choices: Sequence[CustomField]) -> str:
    if row.target is None:
        return "not imported"
    if row.uku_field is not None and row.uku_field in choices:
        return f"{choices.index(row.uku_field) + 1} {row.uku_field.name}"
    return f"{row.target} ✗ {_STATUS_TEXT[row.status][0]}"


def _same_name_hint(trigon_field: fields.TrigonField, choices: Sequence[CustomField]) -> str:
    """Point at an Uku field named like the count, without choosing it for the admin."""
    label = naming.name_key(trigon_field.label_en)
    same = next((f for f in choices if naming.name_key(f.name) == label), None)
    return "" if same is None else f" (type {choices.index(same) + 1} for the field of that name)"


def _ask_topic(config: Config, uku: UkuClient) -> Target | None:
    """Ask for the summary task's topic when none is set; Enter leaves it unset."""
    if config.summary.topic is not None:
        return None
    topics = uku.list_topics()
    console = output.stdout
    names = ", ".join(t.name for t in topics[:10]) or "none"
    while True:
        answer = Prompt.ask(
            escape(f"Uku topic of the summary tasks (name or id; topics: {names}) [not set]"),
            console=console,
            default="",
            show_default=False,
        ).strip()
        if not answer:
            return None
        try:
            return resolve_topic(answer, topics)[1]
        except UsageError as exc:
            console.print(exc.message, markup=False)


def _ask_missing_summary(config: Config) -> dict[str, Any]:
    """Ask for the title, schedule and first import date that are not set yet."""
    console = output.stdout
    summary = config.summary
    answers: dict[str, Any] = {}

    def ask(question: str, check: Any) -> None:
        while True:
            answer = Prompt.ask(
                escape(f"{question} [not set]"), console=console, default="", show_default=False
            ).strip()
            if not answer:
                return
            try:
                answers.update(check(answer))
                return
            except UsageError as exc:
                console.print(exc.message, markup=False)

    def schedule(answer: str) -> dict[str, Any]:
        kind = RULE_KINDS[int(answer) - 1] if answer in {"1", "2", "3"} else answer
        day = None
        if kind == DAY_RULE:
            text = Prompt.ask("Day of the following month (1-31)", console=console).strip()
            day = int(text) if text.isascii() and text.isdigit() else 0
            if not 1 <= day <= 31:
                raise UsageError(f"{text!r} is not a day from 1 to 31")
        return _summary_changes(config, None, kind, day, None, None)

    def first(answer: str) -> dict[str, Any]:
        return {"first_import_date": parse_date(answer)}

    if summary.task_title is None:
        ask(
            "Summary task title ({period} becomes YYYY-MM)",
            lambda a: _summary_changes(config, a, None, None, None, None),
        )
    if summary.schedule is None:
        kinds = ", ".join(f"{n} {kind}" for n, kind in enumerate(RULE_KINDS, start=1))
        ask(f"Schedule ({kinds})", schedule)
    if summary.first_import_date is None:
        ask("First import date (DD.MM.YYYY)", first)
    return answers


def describe_changes(config: Config, proposal: Proposal) -> list[str]:
    """What saving ``proposal`` changes, one line each (added, removed, changed)."""
    lines: list[str] = []
    for key in fields.KEYS:
        before, after = config.fields.get(key), proposal.mapping.get(key)
        if before == after:
            continue
        if before is None:
            lines.append(f"added: {key} -> {after!r}")
        elif after is None:
            lines.append(f"removed: {key} (was {before!r})")
        else:
            lines.append(f"changed: {key}: {before!r} -> {after!r}")
    if proposal.topic is not None:
        lines.append(f"added: summary.topic -> {proposal.topic!r}")
    for key, value in proposal.summary.items():
        if value is None:
            continue
        shown = format_ee(value) if isinstance(value, dt.date) else repr(value)
        lines.append(f"added: summary.{key} -> {shown}")
    return lines


def _pick(answer: str, choices: Sequence[CustomField]) -> CustomField | bool | None:
    """The field a menu answer names, None for '-', False when the answer is not valid."""
    if answer in {"-", "none", ""}:
        return None
    if answer.isascii() and answer.isdigit() and 1 <= int(answer) <= len(choices):
        return choices[int(answer) - 1]
    return False


def _unique_name(uku_field: CustomField, uku_fields: Sequence[CustomField]) -> bool:
    return not naming.find(uku_field.name, uku_fields).ambiguous


# --------------------------------------------------------------------------- showing


def next_import(config: Config, state: State, today: dt.date) -> Run | None:
    """The run the next run-monthly starts with (timeline.py), or None when unknown."""
    try:
        line = timeline_for(config, state, today)
    except TrigonSyncError:
        return None  # a corrupt journal: run-monthly and status report it
    return None if line is None else line.upcoming


def _next_import_line(run: Run | None) -> str:
    if run is None:
        return "Next import: unknown until the schedule and the first import date are set."
    return (
        f"Next import {run.import_day:%a} {format_ee(run.import_day)} will cover "
        f"{format_ee(run.window_start)}–{format_ee(run.window_end)} (period {run.period})."
    )


def _print_next_import(config: Config, state: State) -> None:
    output.stdout.print(_next_import_line(next_import(config, state, clock.today())), markup=False)


@contextmanager
def _optional_uku(config: Config) -> Iterator[UkuClient | None]:
    """An Uku client when `connect-uku` was run, else None (showing works offline)."""
    if not config.uku.company or secret_store(config).get(UKU_API_KEY) is None:
        yield None
        return
    with uku_client(config) as uku:
        yield uku


def _show(config: Config, state: State, *, as_json: bool) -> None:
    uku_fields: list[CustomField] | None = None
    topics: list[Topic] | None = None
    with _optional_uku(config) as uku:
        if uku is not None:
            uku_fields = uku.list_custom_fields("task")
            topics = uku.list_topics() if config.summary.topic is not None else []
    rows = mapping_rows(config.fields, uku_fields)
    topic = (
        find_topic(config.summary.topic, topics)
        if topics is not None and config.summary.topic is not None
        else None
    )
    run = next_import(config, state, clock.today())
    if as_json:
        output.print_json(_show_json(config, rows, uku_fields, topic, topics is not None, run))
        return
    _show_tables(config, rows, uku_fields)
    _show_settings(config, topic, topics is not None, run)


def _show_json(
    config: Config,
    rows: list[MappingRow],
    uku_fields: list[CustomField] | None,
    topic: Topic | None,
    topic_checked: bool,
    run: Run | None,
) -> dict[str, Any]:
    summary = config.summary
    return {
        "fields": [row.to_json() for row in rows],
        "uku_fields": None
        if uku_fields is None
        else [
            {"id": f.id, "name": f.name, "type": f.type, "holds_count": f.holds_count}
            for f in uku_fields
        ],
        "summary": {
            "task_title": summary.task_title,
            "topic": summary.topic,
            "topic_id": topic.id if topic else None,
            "topic_found": (topic is not None) if topic_checked and summary.topic else None,
            "schedule": summary.schedule.kind if summary.schedule else None,
            "day": summary.schedule.day if summary.schedule else None,
            "first_import_date": summary.first_import_date,
            "auto_complete": summary.auto_complete,
        },
        "next_import": None
        if run is None
        else {
            "import_day": run.import_day,
            "window_start": run.window_start,
            "window_end": run.window_end,
            "period": run.period,
        },
        "missing": missing_for_monthly(config),
    }


def _show_tables(
    config: Config, rows: list[MappingRow], uku_fields: list[CustomField] | None
) -> None:
    console = output.stdout
    table = Table(title="Trigon counts → Uku task custom fields")
    table.add_column("Key", no_wrap=True, min_width=max(len(k) for k in fields.KEYS))
    for column in ("Trigon field", "Eesti keeles", "Uku field", "Status"):
        table.add_column(column)
    for row in rows:
        if row.uku_field is not None:
            target = Text(f"{row.uku_field.name} (id {row.uku_field.id})")
        else:
            target = Text("" if row.target is None else str(row.target))
        text, style = _STATUS_TEXT[row.status]
        table.add_row(
            row.field.key,
            Text(row.field.label_en),
            Text(row.field.label_et),
            target,
            Text(text, style=style),
        )
    console.print(table)
    if uku_fields is None:
        console.print(
            "Uku is not connected, so the fields were not checked: run `trigon-sync connect-uku`.",
            markup=False,
        )
        return
    mapped_from = {row.uku_field.id: row.field.key for row in rows if row.uku_field is not None}
    fields_table = Table(title="Uku task custom fields")
    for column in ("Id", "Name", "Type", "Can hold a count", "Receives"):
        fields_table.add_column(column)
    for uku_field in uku_fields:
        fields_table.add_row(
            str(uku_field.id),
            Text(uku_field.name),
            output.safe(uku_field.type),
            Text("✓", style="green") if uku_field.holds_count else Text("✗", style="dim"),
            mapped_from.get(uku_field.id, ""),
        )
    console.print(fields_table)


def _show_settings(
    config: Config, topic: Topic | None, topic_checked: bool, run: Run | None
) -> None:
    console = output.stdout
    summary = config.summary
    if summary.topic is None:
        topic_text = "not set"
    elif not topic_checked:
        topic_text = f"{summary.topic} (not checked)"
    elif topic is None:
        topic_text = f"{summary.topic} ✗ not found in Uku"
    else:
        topic_text = f"{topic.name} (id {topic.id})"
    lines = [
        f"Task title: {summary.task_title or 'not set'}",
        f"Topic: {topic_text}",
        f"Schedule: {summary.schedule.describe() if summary.schedule else 'not set'}",
        "First import date: "
        + (format_ee(summary.first_import_date) if summary.first_import_date else "not set"),
        f"Auto-complete: {'on' if summary.auto_complete else 'off'}",
        _next_import_line(run),
    ]
    for line in lines:
        console.print(line, markup=False)
    missing = missing_for_monthly(config)
    if missing:
        how = " ".join(_SET_WITH.get(key, key) for key in missing)
        console.print(
            f"Still needed before `trigon-sync run-monthly`: {', '.join(missing)}. "
            f"Set them with: trigon-sync map-fields {how}",
            style="yellow",
            markup=False,
        )
