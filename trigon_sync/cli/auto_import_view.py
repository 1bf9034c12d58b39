"""How `run-monthly` reports its automatic client import (``[import] auto_import``).

Creating Uku clients changes what Uku bills, so every line goes to stderr, which cron
mails: what was created or linked, and which firms were held back for a human and why.
"""

from __future__ import annotations

from collections.abc import Sequence

from trigon_sync.cli import output
from trigon_sync.clients.auto_import import AutoImport
from trigon_sync.clients.confirm_results import Outcome
from trigon_sync.errors import PartialFailure
from trigon_sync.records.import_plan import Action, PlanRow

REVIEW_HINT = "review them with `trigon-sync import-clients`, then `trigon-sync confirm`"


def _names(rows: Sequence[PlanRow]) -> str:
    return ", ".join(f"{row.name} ({row.registration_code})" for row in rows)


def render_auto_import(auto: AutoImport, *, as_json: bool) -> None:
    """The import's lines on stderr (the held firms even with --json, like run warnings)."""
    say = output.line
    creates = [r for r in auto.chosen if r.action is Action.CREATE]
    links = [r for r in auto.chosen if r.action is Action.LINK]
    if not as_json:
        if auto.dry_run and auto.chosen:
            say(
                f"Automatic client import (dry run): would create {len(creates)} and link "
                f"{len(links)} Uku client(s): {_names(auto.chosen)}; the real run gives each "
                "its summary task.",
            )
        elif auto.result is not None:
            done = [
                r.row for r in auto.result.results if r.outcome in (Outcome.CREATED, Outcome.FOUND)
            ]
            linked = [r.row for r in auto.result.results if r.outcome is Outcome.LINKED]
            say(
                f"Automatic client import: created {len(done)} and linked {len(linked)} Uku "
                f"client(s): {_names([*done, *linked])}.",
            )
    if auto.result is not None:
        for failed in auto.result.failed:
            say(
                f"warning: automatic client import failed for {failed.row.name} "
                f"({failed.row.registration_code}): {failed.reason}",
            )
    if auto.held:
        listed = "; ".join(
            f"{h.row.name} ({h.row.registration_code or 'no code'}): {h.reason}" for h in auto.held
        )
        say(
            f"warning: {len(auto.held)} Trigon firm(s) not imported automatically: {listed}; "
            f"{REVIEW_HINT}",
        )


def log_line(auto: AutoImport) -> str:
    """One line for the home's log."""
    kind = "dry-run" if auto.dry_run else "run"
    applied = 0
    failed = 0
    if auto.result is not None:
        counts = auto.result.counts()
        applied = counts[Outcome.CREATED] + counts[Outcome.FOUND] + counts[Outcome.LINKED]
        failed = counts[Outcome.FAILED]
    return (
        f"auto-import {kind} planned={len(auto.chosen)} applied={applied} failed={failed} "
        f"held={len(auto.held)}"
    )


def auto_import_failure(auto: AutoImport) -> PartialFailure | None:
    """Exit 5 when some clear-cut firm could not be imported (the monthly run itself was fine)."""
    if auto.result is None or not auto.result.failed:
        return None
    return PartialFailure(
        f"{len(auto.result.failed)} new Trigon firm(s) could not be imported automatically; "
        "they get no summary task yet",
        result=auto.result,
        hint="fix what the warnings say, then run `trigon-sync run-monthly` again",
    )
