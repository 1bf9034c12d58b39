"""What every ``run-monthly`` settles before it connects: may it run, and is anything due?

Cron starts run-monthly every night, and on most nights nothing is due: the answer must
come from the two small files alone, without the network. The checks are made here
once, in one order (:func:`start_night`), for the command (cli/monthly_cmd.py), which on
such a night imports nothing more than this module and the state's (docs/performance.md).
Apart from :func:`start_night` reading config.toml and the state, everything here is
pure: dates, settings and the state's summary in, errors or a timeline out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trigon_sync.dates import format_ee
from trigon_sync.errors import Problem, UsageError
from trigon_sync.http import clock_skew as skew
from trigon_sync.schedule.run_text import next_import_sentence
from trigon_sync.settings.config import (
    MONTHLY_REQUIREMENTS,
    Config,
    missing_for_monthly,
    not_ready,
    schedule_problems,
)
from trigon_sync.store.config_file import load_config
from trigon_sync.store.state import load_view
from trigon_sync.timeline.due import Timeline, timeline_for

if TYPE_CHECKING:
    from trigon_sync.store.state import State
    from trigon_sync.store.state_view import StateSummary


# -- preconditions ----------------------------------------------------------------------


def readiness_problems(config: Config, linked: int) -> list[Problem]:
    """Everything that stops summary tasks from being created, all at once.

    The product's "tasks aren't being created" checklist: title, topic, schedule, first
    import date, a field mapping, and at least one client linked by an import
    (``linked``: how many are).
    """
    where = str(config.path)
    problems = [
        Problem(where, key, f"not set: {MONTHLY_REQUIREMENTS[key]}")
        for key in missing_for_monthly(config)
    ]
    if not config.uku.company:
        problems.append(Problem(where, "uku.company", "not set: run `trigon-sync connect-uku`"))
    if not linked:
        problems.append(
            Problem(
                str(config.path.parent / "state.toml"),
                "links",
                "no Trigon firm is linked to an Uku client yet: run `trigon-sync import-clients`",
            )
        )
    return problems


def require_ready(config: Config, linked: int) -> None:
    problems = readiness_problems(config, linked)
    if problems:
        raise not_ready(config, problems)


def check_today(today: dt.date, real_today: dt.date) -> None:
    """``--today`` replays a missed night; it may not run ahead of the real date."""
    if today > real_today:
        raise UsageError(
            f"--today {format_ee(today)} is later than today ({format_ee(real_today)})",
            hint="a run can only count days that are over; leave --today out",
        )


# -- what is due ------------------------------------------------------------------------


def schedule_for(config: Config, state: State | StateSummary, today: dt.date) -> Timeline:
    """What run-monthly does on ``today``: the one timeline, required to exist."""
    found = timeline_for(config, state, today)
    if found is None:
        raise not_ready(config, schedule_problems(config))
    return found


@dataclass(frozen=True)
class Night:
    """A run-monthly that passed its checks: the settings and what the state says."""

    config: Config
    view: StateSummary
    state: State | None
    """The state the facts were read from."""

    def schedule(self, day: dt.date) -> Timeline:
        return schedule_for(self.config, self.view, day)

    def owes(self) -> bool:
        """Whether a linked client owes a period (store/owed.py): then a night with no
        import day still runs, to retry it. One query on the records database (when
        there is one); state.toml is read only when some pair is owed."""
        from trigon_sync.store import owed

        if not owed.any_owed():
            return False
        state = self.state
        if state is None:
            from trigon_sync.store.state import load_state

            state = load_state()
        linked = {link.trigon_id for link in state.links.values()}
        return any(pair.firm in linked for pair in owed.pairs())


def start_night(day: dt.date, now: dt.datetime) -> Night:
    """The checks before anything else, in this order: ``--today`` not ahead of the
    clock, config.toml valid, the state readable, everything a monthly run needs set,
    and the local clock not behind a run already recorded (caught without the network,
    even on a night when, by that clock, nothing is due).

    The state's facts come from state.toml (no longer grown by nights) and the records
    database's indexes (store/state_view.py).
    """
    check_today(day, now.date())
    config = load_config()
    view, state = load_view()
    require_ready(config, view.linked)
    behind = skew.behind_last_run(now, view.last_recorded_at)
    if behind is not None:
        raise behind
    return Night(config, view, state)


def nothing_due_text(schedule: Timeline) -> str:
    """What a night with nothing due prints (nothing with ``--quiet``)."""
    return f"Nothing due: {next_import_sentence(schedule.next)}."


def nothing_due_log(day: dt.date, schedule: Timeline) -> str:
    """The log line of a night with nothing due."""
    return f"run-monthly today={day} nothing due; {next_import_sentence(schedule.next)}"
