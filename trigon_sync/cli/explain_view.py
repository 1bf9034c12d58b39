"""How ``explain`` shows its answer: where the firm stands, then each period.

Rendering only: billing/explain.py decides; this prints the summary, the firm's standing
(what, since when, caused by and changed by which command, the periods it owes) and one
block per period.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from trigon_sync.billing.explain import Explanation, Verdict
from trigon_sync.billing.firm_state import FirmState, Standing
from trigon_sync.cli import output
from trigon_sync.dates import format_ee, format_ee_time
from trigon_sync.schedule.run_text import window_text

_VERDICT_STYLES = {
    Verdict.TASK: "green",
    Verdict.FAILED: "bold red",
    Verdict.DUE: "yellow",
    Verdict.PENDING: "yellow",
    Verdict.UNKNOWN: "yellow",
    Verdict.GONE: "bold red",
}
_STANDING_STYLES = {Standing.LINKED: "green", Standing.OWES_PERIOD: "bold red"}
_STANDING_WORDS = {
    Standing.LINKED: "linked",
    Standing.OWES_PERIOD: "linked, owes a period",
    Standing.GONE_FROM_TRIGON: "linked, gone from Trigon",
    Standing.UNLINKED: "unlinked",
    Standing.SKIPPED: "skipped at confirm",
    Standing.IGNORED: "ignored",
    Standing.CONFLICT: "conflict in the import",
    Standing.NO_VIEW: "no View permission in Trigon",
    Standing.NOT_IMPORTED: "not imported",
}
"""How people read each standing (``--json`` keeps the words of docs/json-output.md)."""


def _when(text: str) -> str:
    """A date (a link's day) or a date-time (a command's), as Estonians write them."""
    if len(text) == len("2024-10-01"):
        return format_ee(dt.date.fromisoformat(text))
    return format_ee_time(text)


def _standing(firm: FirmState) -> None:
    since = f" since {_when(firm.since)}" if firm.since else ""
    owed = f"; {firm.periods_label} {', '.join(firm.periods)}" if firm.periods else ""
    output.stdout.print(
        Text.assemble(
            ("  state  ", "bold"),
            (
                f"{_STANDING_WORDS[firm.standing]}{since}{owed}",
                _STANDING_STYLES.get(firm.standing, "yellow"),
            ),
            f"\n  by     {firm.caused_by}\n  change {firm.fix}",
        ),
        soft_wrap=True,
    )


def render_explanation(answer: Explanation) -> None:
    output.stdout.print(answer.summary, markup=False, soft_wrap=True)
    if answer.firm is not None:
        _standing(answer.firm)
    for item in answer.periods:
        head = [item.period]
        if item.run is not None:
            head.append(f"window {window_text(item.run)}")
            head.append(f"import day {format_ee(item.run.import_day)}")
        if item.task_id:
            head.append(f"task {item.task_id}")
        output.stdout.print(
            Text.assemble(
                ("  " + "  ".join(head), "bold"),
                "\n      ",
                (item.reason, _VERDICT_STYLES.get(item.verdict, "")),
            ),
            soft_wrap=True,
        )
