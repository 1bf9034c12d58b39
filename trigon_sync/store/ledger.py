"""The billing ledger: what was written to Uku per client and period, kept locally.

The office bills from the counts in Uku's summary tasks; ``report``, the anomaly checks and
``status`` need those counts for months and years back, for thousands of clients, without
one call to Uku. The period journals (journal.py) cannot answer that: they exist to resume
a run, hold Trigon keys but not the Uku field names the counts went into, and a
``--rerun`` does not write them. So every successful create/update (or a task found
already holding the counts) appends one line to ``<home>/ledger.jsonl``, fsync'd before
the period's journal line, and the newest line of a (firm, period) is what Uku holds.

Format (one JSON value per line, append-only, never rewritten):

* ``{"fields": {"id": "1a2b3c4d", "map": [["sales_invoices_created", "Sales invoices"]]}}``
  the mapping (Trigon key -> Uku field name) at write time; written once, before the first
  line that uses it. A renamed or remapped field gets a new id, old lines keep theirs.
* ``["w", period, firm, code, name, uku_client, task, action, fields_id, [counts], at]``
  one write; ``counts`` in the order of the mapping's ``map``.
* ``["a", period, firm, at]``: the admin accepted a flagged client's counts
  (``trigon-sync accept``), so a held task may be written.

Arrays keep 5,000 clients x 24 periods at a few MB; the file is streamed in chunks of
lines, each parsed with one ``json.loads`` (benchmarks/report_bench.py, memory_bench.py).
A kill mid-append leaves at most one torn last line, which is ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from trigon_sync.store import atomic, paths

FieldMap = tuple[tuple[str, str], ...]
"""(Trigon field key, Uku field name) pairs, in catalogue order."""


def ledger_file() -> Path:
    return paths.home_dir() / "ledger.jsonl"


def fields_id(mapping: FieldMap) -> str:
    """A short stable id of one mapping (the same mapping always gets the same id)."""
    text = json.dumps([list(pair) for pair in mapping], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


class Written(NamedTuple):
    """One client's counts as written to Uku for one period, under the field names of then.

    A named tuple with the counts as a tuple aligned to ``keys`` (shared by every line of
    one mapping): a report over years handles 100,000s of these, and column sums over
    tuples run at C speed.
    """

    period: str
    firm: str
    registration_code: str
    name: str
    uku_client: int
    task: int
    action: str
    keys: tuple[str, ...]
    """The Trigon field keys, in the order of ``values``."""
    values: tuple[int, ...]
    columns: tuple[str, ...]
    """The Uku field names the values were written into, in the order of ``values``."""
    at: str

    @property
    def names(self) -> dict[str, str]:
        """Trigon field key -> the Uku field name it was written into."""
        return dict(zip(self.keys, self.columns, strict=True))

    @property
    def counts(self) -> dict[str, int]:
        """Trigon field key -> count."""
        return dict(zip(self.keys, self.values, strict=True))


@dataclass
class Ledger:
    """Everything in the ledger file, newest write per (firm, period)."""

    writes: dict[tuple[str, str], Written] = field(default_factory=dict)
    accepted: set[tuple[str, str]] = field(default_factory=set)
    """(firm, period) pairs an admin accepted despite a flag."""
    field_ids: set[str] = field(default_factory=set)
    """The mapping ids already in the file (a writer does not repeat their lines)."""

    def periods(self) -> list[str]:
        return sorted({period for _, period in self.writes})

    def by_firm(self) -> dict[str, list[Written]]:
        """firm -> its writes, oldest period first."""
        found: dict[str, list[Written]] = {}
        for write in self.writes.values():
            found.setdefault(write.firm, []).append(write)
        period = operator.itemgetter(0)  # Written.period
        for writes in found.values():
            writes.sort(key=period)
        return found


WRITE_PREFIX = '["w","'
"""Every write line starts so, then its period: lines can be skipped by period unparsed."""
CHUNK_BYTES = 1 << 20
"""Lines parsed per ``json.loads``: one fast parse per chunk, memory bounded by the chunk
(the whole file at once took 220 MB at 5,000 clients x 60 periods)."""


def _lines(path: Path) -> Iterator[list[str]]:
    """The file's complete lines in chunks of about :data:`CHUNK_BYTES`; a last line
    without a newline (a kill mid-append) is left out. Empty when there is no file."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        while chunk := handle.readlines(CHUNK_BYTES):
            yield [line for line in chunk if line.endswith("\n")]


def _encoded(firms: Iterable[str]) -> tuple[str, ...]:
    """How each firm id appears inside a line (the writer's ``json.dumps``), quotes included."""
    return tuple(json.dumps(firm, ensure_ascii=False) for firm in firms)


def _values(
    path: Path, since: str | None, until: str | None, firms: set[str] | None
) -> Iterator[Any]:
    """Every complete line as a JSON value, streamed. Write lines of periods outside
    ``since``..``until`` and lines that cannot name one of ``firms`` are skipped unparsed
    (what is parsed is still checked exactly by :func:`entries`); a broken line is
    skipped."""
    start, end = len(WRITE_PREFIX), len(WRITE_PREFIX) + 7
    low, high = since or "", until or "\uffff"
    needles = None if firms is None else _encoded(firms)
    for chunk in _lines(path):
        # A write line is kept by its period (no strip: it is not blank); any other line
        # (a mapping, an acceptance) unless blank.
        kept = [
            line
            for line in chunk
            if (low <= line[start:end] <= high if line.startswith(WRITE_PREFIX) else line.strip())
        ]
        if needles is not None:
            kept = [
                line for line in kept if line.startswith("{") or any(n in line for n in needles)
            ]
        try:
            yield from json.loads("[" + ",".join(kept) + "]")
        except ValueError:
            for line in kept:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


def _odd_write(line: str) -> tuple[str, str] | None:
    """(period, mapping id) of a write line in another JSON layout than the writer's
    compact one (a hand repair, another tool): the prefix scans below would miss it, yet
    :func:`entries` parses it, so they parse it too rather than disagree with it."""
    if not line.lstrip().startswith("["):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if isinstance(value, list) and len(value) == 11 and value[0] == "w":
        period, fid = value[1], value[8]
        if isinstance(period, str) and isinstance(fid, str):
            return period, fid
    return None


def newest_period(path: Path | None = None) -> str | None:
    """The latest period any write is recorded for (a scan of line prefixes, no parsing
    but of a line in another layout)."""
    start = len(WRITE_PREFIX)
    newest: str | None = None
    for chunk in _lines(path or ledger_file()):
        found = []
        for line in chunk:
            if line.startswith(WRITE_PREFIX):
                if line[start + 7 : start + 8] == '"':
                    found.append(line[start : start + 7])
            elif (odd := _odd_write(line)) is not None:
                found.append(odd[0])
        if found:
            top = max(found)
            newest = top if newest is None or top > newest else newest
    return newest


_MAPPINGS: dict[
    tuple[tuple[str, ...], tuple[str, ...]], tuple[tuple[str, ...], tuple[str, ...]]
] = {}


def _shared(
    keys: tuple[str, ...], columns: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One pair of tuples per mapping for the whole process, however often the file is
    read: a report compares mappings by identity (``write.keys is other.keys``) for its
    fast paths, also between writes read by different passes."""
    return _MAPPINGS.setdefault((keys, columns), (keys, columns))


class Accepted(NamedTuple):
    """An ``["a", ...]`` line: the admin accepted ``firm``'s flagged counts for ``period``."""

    firm: str
    period: str


class FieldsLine(NamedTuple):
    """A mapping line: its id is known to the file (a writer does not repeat it)."""

    id: str


def entries(
    path: Path | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    firms: set[str] | None = None,
) -> Iterator[Written | Accepted | FieldsLine]:
    """The ledger's lines in file order, streamed (memory holds one chunk, not the file);
    malformed lines are skipped.

    ``since`` and ``until`` (periods, inclusive) leave out the writes of other periods
    (acceptances are always kept); ``firms`` keeps only
    those Trigon firms' writes and acceptances. Texts repeated on every line (period,
    firm, name, time) are kept once (``sys.intern``): five years of one client's name
    cost one string.
    """
    maps: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    intern = sys.intern
    for value in _values(path or ledger_file(), since, until, firms):
        try:
            if isinstance(value, dict):
                doc = value["fields"]
                pairs = [(str(k), str(n)) for k, n in doc["map"]]
                maps[str(doc["id"])] = _shared(
                    tuple(k for k, _ in pairs), tuple(n for _, n in pairs)
                )
                yield FieldsLine(str(doc["id"]))
            elif value[0] == "w":
                _, period, firm, code, name, client, task, action, fid, counts, at = value
                if (firms is not None and firm not in firms) or (until and period > until):
                    continue
                if since and period < since:
                    continue
                keys, columns = maps[fid]
                if len(counts) != len(keys):
                    continue
                yield Written(
                    intern(period), intern(firm), intern(code), intern(name), client, task,
                    intern(action), keys, tuple(counts), columns, intern(at),
                )  # fmt: skip
            elif value[0] == "a" and (firms is None or str(value[2]) in firms):
                yield Accepted(str(value[2]), str(value[1]))
        except (KeyError, IndexError, TypeError, ValueError):
            continue


def mappings_used(
    path: Path | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    firms: set[str] | None = None,
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The (keys, columns) of every mapping the writes of ``since``..``until`` used, the
    one first used earliest first. Without ``firms`` a scan of each line's period and
    mapping id (``"<id>",[`` before the counts: a string's own quotes are escaped), no
    parsing."""
    first: dict[str, str] = {}
    maps: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    if firms is not None:
        for item in entries(path, since=since, until=until, firms=firms):
            if isinstance(item, Written):
                fid = fields_id(tuple(zip(item.keys, item.columns, strict=True)))
                maps.setdefault(fid, (item.keys, item.columns))
                if item.period < first.get(fid, "\uffff"):
                    first[fid] = item.period
    else:
        start, end = len(WRITE_PREFIX), len(WRITE_PREFIX) + 7
        low, high = since or "", until or "\uffff"
        for chunk in _lines(path or ledger_file()):
            for line in chunk:
                if line.startswith(WRITE_PREFIX):
                    period = line[start:end]
                    at = line.rfind('",[')
                    if low <= period <= high and at > 8:
                        fid = line[at - 8 : at]
                        if period < first.get(fid, "\uffff"):
                            first[fid] = period
                elif (odd := _odd_write(line)) is not None:
                    period, fid = odd
                    if low <= period <= high and period < first.get(fid, "\uffff"):
                        first[fid] = period
                elif line.lstrip().startswith("{"):
                    try:
                        doc = json.loads(line)["fields"]
                        pairs = [(str(k), str(n)) for k, n in doc["map"]]
                    except (KeyError, TypeError, ValueError):
                        continue
                    keys, columns = tuple(k for k, _ in pairs), tuple(n for _, n in pairs)
                    maps[str(doc["id"])] = _shared(keys, columns)
    ordered = sorted(first.items(), key=operator.itemgetter(1))  # ties: first used in the file
    return [maps[fid] for fid, _ in ordered if fid in maps]


def load(
    path: Path | None = None, *, since: str | None = None, firms: set[str] | None = None
) -> Ledger:
    """Read the ledger into memory (empty when there is none): newest write per (firm,
    period), with :func:`entries`' ``since`` and ``firms``."""
    ledger = Ledger()
    writes = ledger.writes
    for item in entries(path, since=since, firms=firms):
        if isinstance(item, Written):
            writes[(item.firm, item.period)] = item
        elif isinstance(item, Accepted):
            ledger.accepted.add((item.firm, item.period))
        else:
            ledger.field_ids.add(item.id)
    return ledger


class LedgerWriter:
    """Appends to the ledger from the run's worker threads; each line fsync'd on return."""

    def __init__(self, path: Path | None = None, known: Iterable[str] = ()) -> None:
        self.path = path or ledger_file()
        self._lock = threading.Lock()
        self._known = set(known)

    def _append(self, lines: Sequence[Any]) -> None:
        data = "".join(
            json.dumps(v, ensure_ascii=False, separators=(",", ":")) + "\n" for v in lines
        )
        atomic.append_lines(self.path, data)

    def write(
        self,
        *,
        period: str,
        firm: str,
        registration_code: str,
        name: str,
        uku_client: int,
        task: int,
        action: str,
        mapping: FieldMap,
        counts: Mapping[str, int],
        at: dt.datetime,
    ) -> None:
        """Record one client's counts as Uku now holds them (newest line wins)."""
        mapping = tuple(pair for pair in mapping if pair[0] in counts)
        fid = fields_id(mapping)
        line = [
            "w",
            period,
            firm,
            registration_code,
            name,
            uku_client,
            task,
            action,
            fid,
            [counts[key] for key, _ in mapping],
            at.isoformat(timespec="seconds"),
        ]
        with self._lock:
            lines: list[Any] = []
            if fid not in self._known:
                lines.append({"fields": {"id": fid, "map": [list(p) for p in mapping]}})
            lines.append(line)
            self._append(lines)
            self._known.add(fid)

    def accept(self, period: str, firm: str, at: dt.datetime) -> None:
        """Record that the admin accepted ``firm``'s flagged counts for ``period``."""
        with self._lock:
            self._append([["a", period, firm, at.isoformat(timespec="seconds")]])
