"""The ``[summary]`` changes ``map-fields`` makes: checked from the options, written in one edit.

Both the options and the interactive walk-through (``mapfields_walkthrough.py``) end
here, so a title, schedule or day is checked by one rule whichever way it was given,
and every change goes into config.toml in one atomic
:func:`~trigon_sync.store.config_file.edit_config`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from trigon_sync.errors import ConfigError, UsageError
from trigon_sync.schedule.rules import RULE_KINDS
from trigon_sync.settings.checks import parse_config
from trigon_sync.settings.config import Config
from trigon_sync.store.config_file import edit_config
from trigon_sync.uku.field_mapping import Target

DAY_RULE = "day_of_next_month"


def summary_changes(
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


def write_settings(
    mapping: dict[str, Target] | None, topic: Target | None, summary: dict[str, Any]
) -> None:
    """Write the mapping, the topic and the summary keys in one atomic config edit."""
    with edit_config() as raw:
        if mapping is not None:
            raw["fields"] = mapping or None
        if topic is not None or summary:
            section = raw.setdefault("summary", {})
            if topic is not None:
                section["topic"] = topic
            section.update(summary)
