"""The monthly run's memory of finished clients: one append-only file per open period.

A run over hundreds of clients can die anywhere (cron killed, power cut, Uku down). So
every client that is finished in Uku gets one fsync'd JSON line in
``<home>/journal/<period>.jsonl`` at once, and the next run skips exactly those. The
cost is one short append per client: O(clients) bytes per period, never a rewrite of
state.toml per client (O(clients²)). When every client of the period is done, the run
folds the period into state.toml (``[journal.completed]``) and moves the file to
``<period>.jsonl.done`` as an audit trail.

A client is done only while its task is there: a run that finds the recorded task gone
from the client in Uku (deleted or moved by a person) appends a ``gone`` line for it
(:meth:`PeriodJournal.lose`), after which the client counts as not done until a later
line records the task made again. ``run-monthly --rerun`` of a completed period writes
its ``gone``, intent and restore lines into the archived ``.done`` file.

Inside ``state.journal`` (read into ``state_records.Periods``, edited by records/periods.py):

* ``period``, ``import_day``, ``window_start``, ``window_end``, ``started_at``: the period
  a run has started but not finished. Present means "a monthly run is in progress", and
  a later run resumes that exact window even if the schedule was changed meanwhile;
* ``topic_id``: the Uku topic the open period writes into, so a topic changed in
  map-fields meanwhile applies from the next period and the period's tasks are looked
  for where they were written;
* ``completed.<period>``: the window and totals of each finished period, which
  ``run-monthly --rerun`` uses to re-count the same days.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trigon_sync.schedule.rules import Run
from trigon_sync.store import atomic, paths


def journal_dir() -> Path:
    return paths.journal_dir()


def journal_file(period: str) -> Path:
    """The open period's file: ``<home>/journal/<period>.jsonl``."""
    return journal_dir() / f"{period}.jsonl"


def archived_file(period: str) -> Path:
    """Where :meth:`PeriodJournal.archive` keeps a finished period's file."""
    return _archived(journal_file(period))


def _archived(path: Path) -> Path:
    return path.with_name(path.name + ".done")


LineReader = Callable[[Path], Iterable[str]]
"""How a journal file is read: its lines, streamed (tests inject one that counts)."""


def read_period(
    run: Run, firms: Collection[str] | None = None, reader: LineReader | None = None
) -> dict[str, Entry]:
    """The finished clients of ``run``'s period, archived or open: the archived file, then
    the open one (a line there is newer). ``firms`` and the streaming as
    :meth:`PeriodJournal.load`; ``reader`` reads a file's lines (default: the file)."""
    found: dict[str, Entry] = {}
    for path in (archived_file(run.period), journal_file(run.period)):
        lines = (reader or file_lines)(path)
        found.update(PeriodJournal(run, path).load(firms, lines))
    return found


# -- the per-period file ------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """What a run found: the task the journal records for a client is no longer on that
    client in Uku (a person deleted it, or moved it onto another client)."""

    task: int
    client: int
    """The Uku client the task was made for."""
    moved_to: int | None = None
    """The Uku client it sits on now; None when Uku no longer has the task."""
    at: str = ""
    """When the run found it (ISO time)."""

    @property
    def how(self) -> str:
        return "deleted" if self.moved_to is None else "moved"

    @property
    def described(self) -> str:
        """``deleted in Uku`` or ``moved in Uku to client N``: for messages."""
        if self.moved_to is None:
            return "deleted in Uku"
        return f"moved in Uku to client {self.moved_to}"


@dataclass(frozen=True)
class Entry:
    """One finished client of one period: which task holds its counts."""

    firm: str
    client: int
    task: int
    action: str
    counts: Mapping[str, int] = field(default_factory=dict)
    lost: Loss | None = None
    """Set by :meth:`PeriodJournal.load` when a later line says a run found this task gone
    from the client: the client is then no longer done (never written with the entry)."""
    earlier: Loss | None = None
    """The loss of the task this one replaced, when it was made again (for ``explain``)."""

    def to_json(self, run: Run, at: dt.datetime) -> dict[str, Any]:
        return {
            "firm": self.firm,
            "client": self.client,
            "task": self.task,
            "action": self.action,
            "counts": dict(self.counts),
            "window": [run.window_start.isoformat(), run.window_end.isoformat()],
            "at": at.isoformat(timespec="seconds"),
        }


class PeriodJournal:
    """Append-only record of the clients finished for one period's window."""

    def __init__(self, run: Run, path: Path | None = None) -> None:
        self.run = run
        self.path = path or journal_file(run.period)
        self._lock = threading.Lock()
        self.appended = 0

    def load(
        self, firms: Collection[str] | None = None, lines: Iterable[str] | None = None
    ) -> dict[str, Entry]:
        """Finished clients by Trigon firm id; lines of another window or torn lines are
        ignored (a kill mid-append leaves at most one partial last line).

        Streamed line by line. ``firms``: only those clients' lines (``explain``, the
        review's look back), the others skipped after reading just their firm id;
        ``lines``: read these instead of the file (tests count what is read)."""
        window = [self.run.window_start.isoformat(), self.run.window_end.isoformat()]
        done: dict[str, Entry] = {}
        losses: dict[str, Loss] = {}
        source = file_lines(self.path) if lines is None else lines
        for doc in _docs(source, firms):
            try:
                if doc.get("window") != window or "intent" in doc:
                    continue
                firm = str(doc["firm"])
                if firms is not None and firm not in firms:
                    continue
                if "gone" in doc:
                    loss = _loss(doc)
                    losses[firm] = loss
                    entry = done.get(firm)
                    if entry is not None and entry.task == loss.task:
                        done[firm] = dataclasses.replace(entry, lost=loss)
                    continue
                task, earlier = int(doc["task"]), losses.get(firm)
                done[firm] = Entry(
                    firm=firm,
                    client=int(doc["client"]),
                    task=task,
                    action=str(doc["action"]),
                    counts={str(k): int(v) for k, v in (doc.get("counts") or {}).items()},
                    earlier=earlier if earlier is not None and earlier.task != task else None,
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return done

    def append(self, entry: Entry, at: dt.datetime) -> None:
        """Write one line and fsync it before returning (called from worker threads)."""
        self._write(entry.to_json(self.run, at), counts=True)

    def lose(self, firm: str, loss: Loss) -> None:
        """Record, before anything is made again, that a run found this client's task gone
        from it in Uku: from this line on the client is not done (``load``), and
        ``explain`` can say what the run saw."""
        window = [self.run.window_start.isoformat(), self.run.window_end.isoformat()]
        self._write(
            {
                "firm": firm,
                "client": loss.client,
                "gone": loss.task,
                "moved_to": loss.moved_to,
                "window": window,
                "at": loss.at,
            }
        )

    def intend(self, firm: str, client: int, at: dt.datetime) -> None:
        """Record, durably and *before* sending it, that a create of this client's task is
        about to be sent. A run that dies before the answer leaves this line, and the next
        run knows Uku may hold a task it cannot list yet (see monthly/task_writer.py)."""
        window = [self.run.window_start.isoformat(), self.run.window_end.isoformat()]
        self._write(
            {
                "intent": "create",
                "firm": firm,
                "client": client,
                "window": window,
                "at": _sent_at(at),
            }
        )

    def intents(self) -> dict[str, dt.datetime]:
        """Firm id -> when its latest create was sent, for this window (finished or not)."""
        window = [self.run.window_start.isoformat(), self.run.window_end.isoformat()]
        found: dict[str, dt.datetime] = {}
        for doc in _docs(file_lines(self.path)):
            try:
                if doc.get("intent") == "create" and doc.get("window") == window:
                    found[str(doc["firm"])] = dt.datetime.fromisoformat(str(doc["at"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return found

    def _write(self, doc: Mapping[str, Any], *, counts: bool = False) -> None:
        with self._lock:
            _append_line(self.path, doc)
            if counts:
                self.appended += 1

    def archive(self) -> None:
        """The period is folded into state: keep the file as ``<period>.jsonl.done``."""
        with contextlib.suppress(FileNotFoundError):
            self.path.replace(_archived(self.path))


class ClientIntents:
    """``confirm``'s memory of client creates sent but not yet linked in state.toml.

    One fsync'd line per create, written *before* it is sent; a later confirm that finds
    a line for a firm knows Uku may hold that client without listing it yet, and looks
    again once Uku's lists have caught up instead of creating a second one. The file is
    removed when a confirm ends with every row done.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or journal_dir() / "client-creates.jsonl"

    def intend(self, firm: str, code: str, at: dt.datetime) -> None:
        _append_line(
            self.path, {"intent": "create", "firm": firm, "code": code, "at": _sent_at(at)}
        )

    def load(self) -> dict[str, dt.datetime]:
        """Firm id -> when its latest client create was sent."""
        found: dict[str, dt.datetime] = {}
        for doc in _docs(file_lines(self.path)):
            try:
                found[str(doc["firm"])] = dt.datetime.fromisoformat(str(doc["at"]))
            except (ValueError, KeyError, TypeError):
                continue
        return found

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _loss(doc: Mapping[str, Any]) -> Loss:
    moved = doc.get("moved_to")
    return Loss(
        task=int(doc["gone"]),
        client=int(doc["client"]),
        moved_to=None if moved is None else int(moved),
        at=str(doc.get("at") or ""),
    )


def _sent_at(at: dt.datetime) -> str:
    """When a create was sent, to the microsecond: the next run waits ``settle_seconds``
    from this moment, so a time cut to the second would shorten that wait by up to 1 s
    and let a listing that is too early decide that a client or task is absent."""
    return at.isoformat(timespec="microseconds")


def _append_line(path: Path, doc: Mapping[str, Any]) -> None:
    """Append one JSON line and fsync it before returning (callers serialise threads)."""
    atomic.append_lines(path, json.dumps(doc, ensure_ascii=False) + "\n")


def file_lines(path: Path) -> Iterator[str]:
    """The lines of an append-only file, streamed (none when it does not exist)."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        yield from handle


_FIRM_FIRST = '{"firm": '
"""How a client's line starts (``Entry.to_json``'s first key, ``json.dumps``' spacing)."""
_decoder = json.JSONDecoder()


def _docs(lines: Iterable[str], firms: Collection[str] | None = None) -> Iterator[dict[str, Any]]:
    """The JSON objects among ``lines``; with ``firms``, a line that starts with another
    firm's id is skipped without parsing the rest (any other line is parsed and left to
    the caller). A torn last line (a kill) is skipped."""
    start = len(_FIRM_FIRST)
    for line in lines:
        if firms is not None and line.startswith(_FIRM_FIRST):
            try:
                firm, _ = _decoder.raw_decode(line, start)
            except ValueError:
                continue
            if str(firm) not in firms:
                continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            yield doc
