"""The typed records inside state.toml: run history, the period journal, the staged import.

state.toml (schema ``store.state.SCHEMA_VERSION``) used to hand these tables round as
plain dicts, and every reader picked keys with ``.get()``: three modules each decided
what "a run-monthly record" is, two read a failure's reason. Now each table is read
once, at load, into the records below, and written back from them; a reader asks a
record (``record.is_monthly``, ``journal.open``) instead of knowing the keys.

Pure: documents in, records out, records back to documents. Nothing of a record is
lost on a round trip (keys this version does not know are kept in ``extra``/``details``),
so an older trigon-sync never erases what a newer one wrote. What is malformed is kept
verbatim and reported where it matters (``run-monthly`` stops on a corrupt open period;
``confirm`` on an unusable staged plan), never at load, so ``status`` and
``import-clients`` still work on such a state.

The documents these records read and write are part of state schema 1: a change to one
of them (a key renamed, a meaning changed) bumps ``SCHEMA_VERSION`` with a
``MIGRATIONS`` entry in store/state.py, so an older trigon-sync refuses the file rather
than misreading it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trigon_sync.dates import toml_date
from trigon_sync.errors import StateError
from trigon_sync.schedule.rules import Run

if TYPE_CHECKING:
    # Loaded when a staged plan is read: the nightly calls never need it.
    from trigon_sync.records.import_plan import ImportPlan

MONTHLY_COMMAND = "run-monthly"
"""The command whose records are monthly runs (``run-monthly --rerun`` too)."""
NO_REASON = "no reason recorded"
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
"""A period label, ``YYYY-MM``."""


# -- run history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FailureNote:
    """One client a monthly run could not finish, as its record keeps it."""

    firm: str
    reason: str
    name: str = ""
    registration_code: str = ""
    period: str | None = None
    """Set when the record says which period; else see billing/explain_records.py."""

    @property
    def who(self) -> str:
        """How the client is named to a person: its name, else its code, else its id."""
        return self.name or self.registration_code or self.firm or "?"


@dataclass(frozen=True)
class OwedNote:
    """One (client, period) still owed after a monthly run, as its record keeps it."""

    firm: str
    period: str
    reason: str
    name: str = ""
    registration_code: str = ""
    since: str = ""
    """The Tallinn date it became owed (ISO), when recorded."""
    days: int | None = None
    """How long it had been owed on the run's day, when recorded."""

    @property
    def who(self) -> str:
        code = self.registration_code or self.firm or "?"
        return f"{self.name} ({code})" if self.name else code


@dataclass(frozen=True)
class RunRecord:
    """One line of ``state.history``: what a command did, when, and how it ended.

    ``details`` are the command's own figures (``clients_ok``, ``created`` ...), shown by
    ``history`` as they are; the properties below are the ones other modules decide on.
    """

    at: str
    command: str
    result: str
    details: Mapping[str, Any] = field(default_factory=dict)
    source: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    """The table it was read from, written back as it was (an odd line stays odd)."""

    @property
    def at_time(self) -> dt.datetime | None:
        """When it ran, or None when the timestamp is unreadable or has no zone."""
        try:
            at = dt.datetime.fromisoformat(self.at)
        except ValueError:
            return None
        return at if at.tzinfo is not None else None

    @property
    def is_monthly(self) -> bool:
        return self.command.split(" ")[0] == MONTHLY_COMMAND

    @property
    def is_rerun(self) -> bool:
        return self.is_monthly and "--rerun" in self.command.split(" ")

    @property
    def periods(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.details.get("periods") or ())

    @property
    def complete(self) -> frozenset[str]:
        return frozenset(str(p) for p in self.details.get("complete") or ())

    @property
    def failures(self) -> tuple[FailureNote, ...]:
        """The failed clients it names (an entry that is not a table names a firm id)."""
        notes = []
        for item in self.details.get("failures") or ():
            if not isinstance(item, Mapping):
                notes.append(FailureNote(firm=str(item), reason=NO_REASON))
                continue
            period = item.get("period")
            notes.append(
                FailureNote(
                    firm=str(item.get("firm") or ""),
                    reason=str(item.get("reason") or NO_REASON),
                    name=str(item.get("name") or ""),
                    registration_code=str(item.get("registration_code") or ""),
                    period=None if period in (None, "") else str(period),
                )
            )
        return tuple(notes)

    @property
    def owed(self) -> tuple[OwedNote, ...]:
        """The (client, period) pairs still owed after the run (``owed`` of run-monthly;
        a record of an older version has no name, code or age: the firm id stands in)."""
        notes = []
        for item in self.details.get("owed") or ():
            if not isinstance(item, Mapping):
                continue
            days = item.get("owed_days")
            notes.append(
                OwedNote(
                    firm=str(item.get("firm") or ""),
                    period=str(item.get("period") or "?"),
                    reason=str(item.get("reason") or NO_REASON),
                    name=str(item.get("name") or ""),
                    registration_code=str(item.get("registration_code") or ""),
                    since=str(item.get("owed_since") or "")[:10],
                    days=days if isinstance(days, int) and not isinstance(days, bool) else None,
                )
            )
        return tuple(notes)

    def to_document(self) -> dict[str, Any]:
        if self.source is not None:
            return dict(self.source)
        return {"at": self.at, "command": self.command, "result": self.result, **self.details}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> RunRecord:
        """Tolerant: history is shown, never decided on, so an odd line is kept as it is."""
        details = {k: v for k, v in doc.items() if k not in ("at", "command", "result")}
        return cls(
            at=str(doc.get("at", "")),
            command=str(doc.get("command", "")),
            result=str(doc.get("result", "")),
            details=details,
            source=dict(doc),
        )


# -- the period journal --------------------------------------------------------------------


@dataclass(frozen=True)
class OpenPeriod:
    """The period a run started and has not finished; its window does not move."""

    run: Run
    started_at: str
    topic_id: int | None = None
    """The Uku topic it writes into (absent for a period opened by trigon-sync 0.1)."""


@dataclass(frozen=True)
class CompletedPeriod:
    """A finished period: the window it counted (for ``--rerun``) and its totals."""

    run: Run
    completed_at: str
    totals: Mapping[str, Any] = field(default_factory=dict)


_OPEN_KEYS = ("period", "import_day", "window_start", "window_end", "started_at", "topic_id")
_RUN_KEYS = ("import_day", "window_start", "window_end")


@dataclass
class Periods:
    """``state.journal``: the open period, if any, and every completed one.

    A malformed open period is kept in ``unreadable_open`` (and reported by
    :meth:`require_open`); malformed completed entries stay in ``unreadable_completed``.
    Both are written back unchanged.
    """

    open: OpenPeriod | None = None
    completed: dict[str, CompletedPeriod] = field(default_factory=dict)
    unreadable_open: dict[str, Any] | None = None
    unreadable_completed: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def in_progress(self) -> bool:
        """A period was started and not finished (the window must not move)."""
        return self.open is not None or self.unreadable_open is not None

    def require_open(self) -> OpenPeriod | None:
        """The open period; StateError when one was started but its record is corrupt."""
        if self.unreadable_open is not None:
            raise StateError(
                f"state.toml [journal] is corrupt ({_why_unreadable(self.unreadable_open)})",
                hint="restore a good copy of state.toml; nothing was changed",
            )
        return self.open

    def open_part(self) -> Periods:
        """Only the open period (what the state summary keeps of the journal)."""
        return Periods(open=self.open, unreadable_open=self.unreadable_open)

    def require_completed(self, period: str) -> CompletedPeriod | None:
        """A completed period's record (None: never completed); StateError when the
        journal names it but its record is corrupt."""
        if period in self.unreadable_completed:
            raise StateError(
                f"state.toml [journal.completed.{period}] is corrupt (its window is unreadable)",
                hint="restore a good copy of state.toml; nothing was changed",
            )
        return self.completed.get(period)

    @property
    def open_label(self) -> str | None:
        """The open period's label, even when the rest of its record is corrupt."""
        if self.open is not None:
            return self.open.run.period
        label = (self.unreadable_open or {}).get("period")
        return None if label is None else str(label)

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = dict(self.extra)
        if self.unreadable_open is not None:
            doc.update(self.unreadable_open)
        elif self.open is not None:
            doc.update(_run_document(self.open.run), period=self.open.run.period)
            doc["started_at"] = self.open.started_at
            if self.open.topic_id is not None:
                doc["topic_id"] = self.open.topic_id
        completed = dict(self.unreadable_completed)
        for name, entry in self.completed.items():
            completed[name] = {
                **_run_document(entry.run),
                "completed_at": entry.completed_at,
                **entry.totals,
            }
        if completed:
            doc["completed"] = dict(sorted(completed.items()))
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Periods:
        journal = cls(extra={k: v for k, v in doc.items() if k not in (*_OPEN_KEYS, "completed")})
        opened = {k: doc[k] for k in _OPEN_KEYS if k in doc}
        if opened.get("period"):
            try:
                topic = opened.get("topic_id")
                journal.open = OpenPeriod(
                    run=_run(opened, str(opened["period"])),
                    started_at=str(opened.get("started_at", "")),
                    topic_id=None
                    if isinstance(topic, bool) or not isinstance(topic, int)
                    else topic,
                )
            except (KeyError, TypeError, ValueError):
                journal.unreadable_open = opened
        elif opened:
            journal.extra.update(opened)  # leftovers without a period: not an open period
        completed = doc.get("completed", {})
        if not isinstance(completed, Mapping):
            raise TypeError("journal.completed has the wrong type")
        for name, entry in completed.items():
            try:
                if not isinstance(entry, Mapping):
                    raise TypeError("not a table")
                journal.completed[str(name)] = CompletedPeriod(
                    run=_run(entry, str(name)),
                    completed_at=str(entry.get("completed_at", "")),
                    totals={
                        k: v for k, v in entry.items() if k not in (*_RUN_KEYS, "completed_at")
                    },
                )
            except (KeyError, TypeError, ValueError):
                journal.unreadable_completed[str(name)] = entry
        return journal


def _run(doc: Mapping[str, Any], period: str) -> Run:
    return Run(
        import_day=toml_date(doc["import_day"], "import_day"),
        window_start=toml_date(doc["window_start"], "window_start"),
        window_end=toml_date(doc["window_end"], "window_end"),
        period=period,
    )


def _run_document(run: Run) -> dict[str, Any]:
    return {
        "import_day": run.import_day,
        "window_start": run.window_start,
        "window_end": run.window_end,
    }


def _why_unreadable(opened: Mapping[str, Any]) -> str:
    try:
        _run(opened, str(opened.get("period")))
    except KeyError as exc:
        return f"{exc.args[0]!r} is missing"
    except (TypeError, ValueError) as exc:
        return str(exc)
    return "unreadable"


# -- the staged import ---------------------------------------------------------------------


@dataclass(frozen=True)
class StagedImport:
    """The plan ``import-clients`` staged for ``confirm``, and when.

    An unusable plan (hand-edited, or from another version) is kept verbatim and raises
    its StateError only when someone needs the plan, so ``import-clients`` can replace it.
    """

    staged_at: str
    _plan: ImportPlan | None = None
    _document: Mapping[str, Any] | None = None
    _problem: StateError | None = None

    @classmethod
    def of(cls, plan: ImportPlan, at: dt.datetime) -> StagedImport:
        return cls(staged_at=at.isoformat(timespec="seconds"), _plan=plan)

    @property
    def plan(self) -> ImportPlan:
        """The staged plan; StateError (with the fix) when it is unusable."""
        if self._plan is not None:
            return self._plan
        raise self._problem or StateError("the staged import plan in state.toml is unusable")

    def to_document(self) -> dict[str, Any]:
        if self._document is not None:  # as it was read: written back verbatim
            return dict(self._document)
        return {**self.plan.to_dict(), "staged_at": self.staged_at}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> StagedImport:
        from trigon_sync.records.import_plan import ImportPlan

        staged_at = str(doc.get("staged_at", ""))
        try:
            return cls(staged_at=staged_at, _plan=ImportPlan.from_dict(doc), _document=dict(doc))
        except StateError as exc:
            return cls(staged_at=staged_at, _document=dict(doc), _problem=exc)


def last_recorded(history: Iterable[RunRecord]) -> dt.datetime | None:
    """The latest ``at`` of the state's run records (unreadable ones skipped)."""
    times = [at for at in (entry.at_time for entry in history) if at is not None]
    return max(times, default=None)
