"""The pure half of the monthly run: what to fetch, and what to do per client.

Dates, settings, counts and the Uku tasks already found go in; dataclasses come out (what
is due, and what must hold before anything starts, is monthly/gate.py). No
HTTP, no clock, no printing: the execution half (monthly/run.py) and ``--dry-run`` share
these decisions, so the plan a support person reads is exactly what a real run does.

Per client and period the action is one of

* ``create``: no summary task of this client and period exists in Uku yet;
* ``update``: our task exists (found by its identity, monthly/task_identity.py) but its counts
  differ;
* ``exists``: our task exists with these counts, or an earlier run finished the client;
* ``skip``: nothing can be written, with the reason (no View permission, firm gone,
  or ``--rerun`` found no task and the period's record holds none for the client: it
  only restores a task the record holds, deleted or moved away in Uku since), or a
  ``--rerun`` found the task finished in Uku with other counts (``finished``): a finished
  task may be invoiced already, so only ``--include-finished`` changes it.

An ``update`` (and a finished task left alone) carries ``changes``: per Trigon field whose
value differs, the count the task holds now and the new one, so a re-count shows what it
changes on the invoice before it is written.
"""

from __future__ import annotations

import decimal
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from trigon_sync.errors import ConfigError, Problem, UsageError
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run
from trigon_sync.schedule.run_text import window_json, window_text
from trigon_sync.settings import fields, naming
from trigon_sync.settings.config import Config

if TYPE_CHECKING:
    from trigon_sync.billing.anomalies import Flag
    from trigon_sync.monthly.task_identity import TaskIdentity
    from trigon_sync.store import journal
    from trigon_sync.store.state import ClientLink, State
    from trigon_sync.uku.models import CustomField, FieldValue, Task, Topic

Action = Literal["create", "update", "exists", "skip"]
ACTIONS: tuple[Action, ...] = ("create", "update", "exists", "skip")
UNLINKED_HINT = (
    "`trigon-sync import-clients` lists them all; `trigon-sync ignore CODE_OR_ID` stops "
    "announcing one"
)
DONE_EARLIER = "done by an earlier run"
"""The reason of an ``exists`` plan taken from the period's journal (nothing fetched)."""
FINISHED_KEPT = (
    "finished in Uku: not changed (it may be invoiced already; --include-finished changes it)"
)
"""The reason of a ``--rerun`` skip of a finished task whose counts differ."""
RANGE_SEPARATOR = ".."
HELD = "held for review before billing"
"""A held plan's reason when none more precise is given (monthly/review.py gives one)."""


# -- --rerun ---------------------------------------------------------------------------


def rerun_target(state: State, period: str) -> Run:
    """The window of a completed period, for ``--rerun``; UsageError if there is none."""
    record = state.journal.require_completed(period)
    if record is None:
        done = period_record.completed_periods(state)
        listed = completed_text(done)
        raise UsageError(
            f"period {period} has not been completed by run-monthly (completed: {listed})",
            hint="--rerun re-counts a finished period; a period still due is run without it",
        )
    return record.run


COMPLETED_NAMED = 6
"""Up to this many completed periods are named one by one; more are said as their range."""


def completed_text(done: Sequence[str]) -> str:
    """The completed periods (oldest first) as a refused ``--rerun`` names them: every one,
    or for many their whole range and how many (``2024-10..2025-08, 11 periods``), the
    range written as ``--rerun FROM..TO`` takes it. Never a silent cut to the newest."""
    if not done:
        return "none yet"
    if len(done) <= COMPLETED_NAMED:
        return ", ".join(done)
    return f"{done[0]}{RANGE_SEPARATOR}{done[-1]}, {len(done)} periods"


def rerun_targets(state: State, periods: str) -> list[Run]:
    """The completed periods ``--rerun`` re-counts, oldest first: one ``YYYY-MM``, or every
    completed period of ``FROM..TO`` (both ends included). UsageError when the one period
    is not completed, or the range holds none."""
    first, sep, last = periods.partition(RANGE_SEPARATOR)
    if not sep:
        return [rerun_target(state, periods)]
    if first > last:
        raise UsageError(
            f"--rerun {periods}: the range ends before it starts",
            hint="write the earlier period first, e.g. --rerun 2024-09..2024-11",
        )
    done = period_record.completed_periods(state)
    chosen = [p for p in sorted(done) if first <= p <= last]
    if not chosen:
        listed = completed_text(done)
        raise UsageError(
            f"no period from {first} to {last} has been completed by run-monthly "
            f"(completed: {listed})",
            hint="--rerun re-counts finished periods; a period still due is run without it",
        )
    return [rerun_target(state, p) for p in chosen]


# -- Uku ids, resolved once per run ------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One mapped count: the Trigon field and the Uku number field receiving it."""

    key: str
    field_id: int
    field_name: str


@dataclass(frozen=True)
class Targets:
    """Where counts go in Uku: the topic and one number field per mapped Trigon field."""

    topic_id: int
    topic_name: str
    fields: tuple[Target, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.fields)

    def values(self, counts: Mapping[str, int]) -> dict[int, int]:
        """Custom-field id -> count, for the task body."""
        return {t.field_id: counts[t.key] for t in self.fields if t.key in counts}


def resolve_targets(
    config: Config, topics: Sequence[Topic], custom_fields: Sequence[CustomField]
) -> Targets:
    """Map the configured topic and fields onto Uku ids; ConfigError lists every mismatch."""
    where = str(config.path)
    problems: list[Problem] = []
    wanted_topic = config.summary.topic
    found_topic = naming.find(wanted_topic, topics) if wanted_topic is not None else None
    topic = found_topic.item if found_topic is not None else None
    if found_topic is not None and found_topic.ambiguous:
        problems.append(Problem(where, "summary.topic", str(found_topic.problem("Uku topic"))))
    elif topic is None:
        names = ", ".join(repr(t.name) for t in topics) or "none"
        problems.append(
            Problem(where, "summary.topic", f"no Uku topic {wanted_topic!r} (topics: {names})")
        )
    task_fields = [f for f in custom_fields if f.entity == "task"]
    targets: list[Target] = []
    owner: dict[int, str] = {}  # Uku field id -> the Trigon key already writing into it
    for key in fields.KEYS:  # catalogue order, whatever order config.toml uses
        wanted = config.fields.get(key)
        if wanted is None:
            continue
        lookup = naming.find(wanted, task_fields)
        found = lookup.item
        if lookup.ambiguous:
            problems.append(
                Problem(where, f"fields.{key}", str(lookup.problem("Uku task custom field")))
            )
        elif found is None:
            problems.append(Problem(where, f"fields.{key}", f"no Uku task custom field {wanted!r}"))
        elif found.id in owner:
            # config.toml catches equal names; a name and an id of one field meet only here
            problems.append(
                Problem(
                    where,
                    f"fields.{key}",
                    f"maps to the same Uku field {found.name!r} as {owner[found.id]}; "
                    "each count needs its own field",
                )
            )
        elif not found.holds_count:
            problems.append(
                Problem(
                    where,
                    f"fields.{key}",
                    f"Uku field {found.name!r} is a {found.type} field; "
                    "only number or integer fields can hold a count",
                )
            )
        else:
            owner[found.id] = key
            targets.append(Target(key, found.id, found.name))
    if problems or topic is None:  # no topic is always a problem too
        raise ConfigError(problems, hint="fix the mapping with `trigon-sync map-fields`")
    return Targets(topic.id, topic.name, tuple(targets))


# -- per-client decisions ----------------------------------------------------------------


def fields_to_fetch(keys: Iterable[str]) -> tuple[fields.TrigonField, ...]:
    """Only the mapped fields, in catalogue order: unmapped counts are never fetched."""
    wanted = set(keys)
    return tuple(f for f in fields.FIELDS if f.key in wanted)


def idempotency_key(company: str, identity: TaskIdentity) -> str:
    """The Idempotency-Key of a summary task create: one per company and task identity.

    Every attempt (resumed run, the same night twice) sends the same key, so where Uku
    honours it the first create is replayed. Nothing relies on that (monthly/task_writer.py).
    57 characters: well under Uku's 200.
    """
    parts = (company, identity.installation, str(identity.client_id), identity.period)
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"trigon-sync-task-{digest[:40]}"


def description(run: Run) -> str:
    """The human part of the task description (the marker line is added by the adapter)."""
    return f"Trigon counts for {window_text(run)}, written by trigon-sync."


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """What happens to one client in one period, and the counts it carries."""

    link: ClientLink
    action: Action
    counts: Mapping[str, int] = field(default_factory=dict)
    task_id: int | None = None
    complete: bool = False
    """Also mark the task finished (``auto_complete`` and it is not finished yet)."""
    reason: str | None = None
    flags: tuple[Flag, ...] = ()
    """Anomalies to look at before billing (monthly/review.py attaches them)."""
    held: bool = False
    """Not written until the admin accepts the flagged counts (``[anomalies] hold``)."""
    changes: Mapping[str, tuple[int | None, int]] = field(default_factory=dict)
    """Trigon field key -> (count the Uku task holds now, new count), for each that differs
    (an ``update``, or a finished task ``--rerun`` leaves alone); None: it holds no count."""
    finished: bool = False
    """``--rerun`` found the task finished in Uku and leaves it as it is (FINISHED_KEPT)."""

    @property
    def unless_listed(self) -> bool:
        """A create the real run makes only if Uku does not list the task after its wait
        (its reason says why: monthly/actions.py ``look_reason``); the dry run shows it."""
        return self.action == "create" and self.reason is not None

    def change(self, key: str) -> int:
        """How much the count of ``key`` goes up (negative: down); a missing value is 0."""
        old, new = self.changes[key]
        return new - (old or 0)

    def changes_json(self, names: Mapping[str, str]) -> list[dict[str, Any]]:
        """The changed fields, each under its Uku field name (``names``: key -> name)."""
        return [
            {
                "field": key,
                "uku_field": names.get(key, key),
                "old": old,
                "new": new,
                "change": self.change(key),
            }
            for key, (old, new) in self.changes.items()
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "trigon_id": self.link.trigon_id,
            "registration_code": self.link.registration_code,
            "name": self.link.name,
            "action": self.action,
            "counts": dict(self.counts),
            "reason": self.reason,
            "flags": [flag.to_json() for flag in self.flags],
            "held": self.held,
        }


def held_count(value: FieldValue) -> int | None:
    """A custom-field value as a count, however Uku returns it: ``3``, ``3.0``, ``"3"``,
    ``"3.00"`` are all 3; anything else (text, a fraction, a bool, nothing) is None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        number = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def count_mismatches(values: Mapping[int, int], task: Task) -> list[tuple[int, int, FieldValue]]:
    """(field id, count sent, value held) for every count ``task`` does not hold."""
    held = task.custom_fields
    return [
        (fid, value, held.get(fid))
        for fid, value in values.items()
        if held_count(held.get(fid)) != value
    ]


def decide(
    link: ClientLink,
    targets: Targets,
    counts: Mapping[str, int],
    existing: Task | None,
    *,
    auto_complete: bool,
    rerun: bool = False,
    restore: bool = False,
    include_finished: bool = False,
) -> ClientPlan:
    """Create, update or leave alone one client's summary task, given what Uku holds.

    ``--rerun`` (``rerun``) re-counts a completed period: it creates a task only to
    ``restore`` one the period's record holds for this client and Uku no longer has, and
    changes a task Uku shows as finished only with ``include_finished``."""
    if existing is None:
        if rerun and not restore:
            return ClientPlan(
                link,
                "skip",
                counts,
                reason="no summary task of this period in Uku, and the period's record has "
                "none for this client; --rerun only restores a task the record holds",
            )
        return ClientPlan(link, "create", counts, complete=auto_complete)
    finish = auto_complete and existing.status != "finished"
    differ = count_mismatches(targets.values(counts), existing)
    if not differ:
        return ClientPlan(link, "exists", counts, existing.id, finish)
    keys = {t.field_id: t.key for t in targets.fields}
    changes = {keys[fid]: (held_count(held), sent) for fid, sent, held in differ}
    if rerun and existing.status == "finished" and not include_finished:
        return ClientPlan(
            link,
            "skip",
            counts,
            existing.id,
            reason=FINISHED_KEPT,
            changes=changes,
            finished=True,
        )
    return ClientPlan(
        link, "update", counts, existing.id, finish, reason="counts differ", changes=changes
    )


def already_done(link: ClientLink, entry: journal.Entry) -> ClientPlan:
    """A client an earlier run of this period finished: nothing to fetch or write."""
    return ClientPlan(link, "exists", dict(entry.counts), entry.task, reason=DONE_EARLIER)


def skipped(link: ClientLink, reason: str) -> ClientPlan:
    return ClientPlan(link, "skip", reason=reason)


def firm_problem(link: ClientLink, listed: Mapping[str, bool] | None) -> str | None:
    """Why a linked firm cannot be counted, judged from the firm list (None: go ahead).

    ``listed`` maps firm id -> has View; None when the list was not fetched.
    """
    if listed is None:
        return None
    if link.trigon_id not in listed:
        return "not found in Trigon: the firm was removed or the Trigon user may not List it"
    if not listed[link.trigon_id]:
        return "no View permission in Trigon: add View for this firm to the user's role"
    return None


def unlinked_warning(firms: Iterable[tuple[str, str, str | None]], state: State) -> str | None:
    """The product's step 6: Trigon firms that have no Uku client yet get no task.

    Firms the admin chose to ignore (``trigon-sync ignore``) are not announced again.
    """
    linked = {link.trigon_id for link in state.links.values()} | set(state.links)
    linked |= set(state.ignored)
    missing = [(fid, name, code) for fid, name, code in firms if fid not in linked]
    if not missing:
        return None
    # Mailed every night: a few names and the command that lists them all, not a page.
    shown = ", ".join(f"{name} ({code or 'no code'})" for _, name, code in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return (
        f"{len(missing)} Trigon firm(s) get no summary task (not linked to Uku): "
        f"{shown}{more}; {UNLINKED_HINT}"
    )


def period_json(run: Run, plans: Iterable[ClientPlan]) -> dict[str, Any]:
    """One period of the ``--dry-run --json`` document (shape fixed by issue 6)."""
    return {"period": run.period, **window_json(run), "clients": [p.to_json() for p in plans]}


def sorted_links(state: State) -> list[ClientLink]:
    """Linked clients in a stable, readable order (by name, then firm id)."""
    return sorted(state.links.values(), key=lambda link: (link.name.casefold(), link.trigon_id))
