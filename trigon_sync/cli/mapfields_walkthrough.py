"""Interactive ``map-fields``: walk an admin through the mapping and the missing settings.

Starts from the current settings (Enter keeps each value) and returns a
:class:`Proposal`; the command shows :func:`describe_changes` and asks before saving.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from rich.prompt import Prompt
from rich.table import Table
from rich.text import Text

from trigon_sync.cli import output
from trigon_sync.cli.mapfields_changes import DAY_RULE, summary_changes
from trigon_sync.cli.mapfields_view import STATUS_TEXT
from trigon_sync.dates import format_ee, parse_date
from trigon_sync.errors import UsageError
from trigon_sync.schedule.rules import RULE_KINDS
from trigon_sync.settings import fields, naming
from trigon_sync.settings.config import Config
from trigon_sync.uku.client import UkuClient
from trigon_sync.uku.field_mapping import (
    MappingRow,
    Target,
    count_fields,
    mapping_rows,
    resolve_topic,
)
from trigon_sync.uku.models import CustomField


def walk_through(config: Config, uku: UkuClient, uku_fields: Sequence[CustomField]) -> Proposal:
    """Walk through the settings, starting from the current ones; Enter keeps each value.

    Every Trigon field is asked in turn (Enter keeps its current target, also an
    unmapped one); then the summary settings still missing (title, topic, schedule,
    first import date) are asked, Enter leaving each unset.
    """
    console = output.stderr
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
    return f"{row.target} ✗ {STATUS_TEXT[row.status][0]}"


def _same_name_hint(trigon_field: fields.TrigonField, choices: Sequence[CustomField]) -> str:
    """Point at an Uku field named like the count, without choosing it for the admin."""
    label = naming.label_key(trigon_field.label_en)
    same = next((f for f in choices if naming.label_key(f.name) == label), None)
    return "" if same is None else f" (type {choices.index(same) + 1} for the field of that name)"


def _ask_topic(config: Config, uku: UkuClient) -> Target | None:
    """Ask for the summary task's topic when none is set; Enter leaves it unset."""
    if config.summary.topic is not None:
        return None
    topics = uku.list_topics()
    console = output.stderr
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
    console = output.stderr
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
        return summary_changes(config, None, kind, day, None, None)

    def first(answer: str) -> dict[str, Any]:
        return {"first_import_date": parse_date(answer)}

    if summary.task_title is None:
        ask(
            "Summary task title ({period} becomes YYYY-MM)",
            lambda a: summary_changes(config, a, None, None, None, None),
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
