"""What ``map-fields`` shows: the mapping tables, the summary settings and the next import.

Shown after every change and with ``--show``/``--json``; checked against Uku when
``connect-uku`` was run, offline otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.table import Table
from rich.text import Text

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.connections import secret_store, uku_client
from trigon_sync.dates import format_ee
from trigon_sync.errors import TrigonSyncError
from trigon_sync.schedule.rules import Run
from trigon_sync.schedule.run_text import next_import_sentence, run_json
from trigon_sync.settings import fields
from trigon_sync.settings.config import Config, missing_for_monthly
from trigon_sync.store.secrets import UKU_API_KEY
from trigon_sync.store.state import State
from trigon_sync.timeline.due import timeline_for
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.field_mapping import MappingRow, Status, find_topic, mapping_rows
from trigon_sync.uku.models import CustomField, Topic

SET_WITH = {
    "summary.task_title": "--title 'Monthly summary {period}'",
    "summary.topic": "--topic NAME",
    "summary.schedule": "--schedule last_work_day",
    "summary.first_import_date": "--first-import-date DD.MM.YYYY",
    "fields": "--set KEY=UKU_FIELD",
}
"""How a user sets each missing setting (config.missing_for_monthly's keys)."""

STATUS_TEXT: dict[Status, tuple[str, str]] = {
    Status.OK: ("✓", "green"),
    Status.UNMAPPED: ("not imported", "dim"),
    Status.MISSING: ("✗ no such Uku field", "bold red"),
    Status.NOT_NUMBER: ("✗ not a number field", "bold red"),
    Status.AMBIGUOUS: ("✗ name used twice in Uku; use the id", "bold red"),
    Status.DUPLICATE: ("✗ Uku field used twice", "bold red"),
    Status.NOT_CHECKED: ("not checked (Uku not connected)", "yellow"),
}


def next_import(config: Config, state: State, today: dt.date) -> Run | None:
    """The run the next run-monthly starts with (timeline/due.py), or None when unknown."""
    try:
        line = timeline_for(config, state, today)
    except TrigonSyncError:
        return None  # a corrupt journal: run-monthly and status report it
    return None if line is None else line.upcoming


def next_import_line(run: Run | None) -> str:
    if run is None:
        return "Next import: unknown until the schedule and the first import date are set."
    sentence = next_import_sentence(run)
    return f"{sentence[0].upper()}{sentence[1:]}."


def print_next_import(config: Config, state: State) -> None:
    output.stdout.print(next_import_line(next_import(config, state, clock.today())), markup=False)


@contextmanager
def _optional_uku(config: Config) -> Iterator[UkuClient | None]:
    """An Uku client when `connect-uku` was run, else None (showing works offline)."""
    if not config.uku.company or secret_store(config).get(UKU_API_KEY) is None:
        yield None
        return
    with uku_client(config) as uku:
        yield uku


def show_settings(config: Config, state: State, *, as_json: bool) -> None:
    """Print the settings: one JSON object, or the tables and the summary lines."""
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
    _show_summary(config, topic, topics is not None, run)


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
        "next_import": None if run is None else run_json(run),
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
        text, style = STATUS_TEXT[row.status]
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


def _show_summary(
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
        next_import_line(run),
    ]
    for line in lines:
        console.print(line, markup=False)
    missing = missing_for_monthly(config)
    if missing:
        how = " ".join(SET_WITH.get(key, key) for key in missing)
        console.print(
            f"Still needed before `trigon-sync run-monthly`: {', '.join(missing)}. "
            f"Set them with: trigon-sync map-fields {how}",
            style="yellow",
            markup=False,
        )
