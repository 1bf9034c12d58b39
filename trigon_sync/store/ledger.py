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

Arrays keep 5,000 clients x 24 periods at a few MB. The file is read line by line and
parsed :data:`PARSE_CHUNK` lines per ``json.loads`` (benchmarks/report_bench.py): C-speed
parsing without ever holding the whole file, or all its values, at once. A kill
mid-append leaves at most one torn last line, which is ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from trigon_sync.store import paths

FieldMap = tuple[tuple[str, str], ...]
"""(Trigon field key, Uku field name) pairs, in catalogue order."""


def ledger_file() -> Path:
    return paths.ledger_file()


def fields_id(mapping: FieldMap) -> str:
    """A short stable id of one mapping (the same mapping always gets the same id)."""
    import hashlib  # a writer's need: status, reading, never calls this

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


def _kept_lines(path: Path, since: str | None) -> list[str]:
    """The complete lines of the file (write lines of periods before ``since`` left out),
    read line by line: the whole file is never held at once."""
    start = len(WRITE_PREFIX)
    with path.open(encoding="utf-8") as handle:
        return [
            line
            for line in handle
            if line.endswith("\n")  # a last line without one is torn (a kill mid-append)
            and not line.isspace()
            and (
                since is None
                or not line.startswith(WRITE_PREFIX)
                or line[start : start + 7] >= since
            )
        ]


PARSE_CHUNK = 4096
"""Lines parsed by one ``json.loads``: as fast as one parse of the whole file, while only
a chunk's values are held at once (five years of 5,000 clients parsed at once peaked at
over 100 MB)."""


def _values(lines: list[str]) -> Iterator[Any]:
    """Every line as a JSON value, a chunk at a time."""
    for first in range(0, len(lines), PARSE_CHUNK):
        yield from _parse_lines(lines[first : first + PARSE_CHUNK])


def _parse_lines(lines: list[str]) -> list[Any]:
    """Every line as a JSON value: one fast parse, line by line if one is broken."""
    try:
        return json.loads("[" + ",".join(lines) + "]")  # a line's newline is JSON whitespace
    except ValueError:
        values = []
        for line in lines:
            try:
                values.append(json.loads(line))
            except ValueError:
                continue
        return values


def newest_period(path: Path | None = None) -> str | None:
    """The latest period any write is recorded for (a scan of line prefixes, no parsing,
    line by line)."""
    start = len(WRITE_PREFIX)
    newest: str | None = None
    try:
        with (path or ledger_file()).open(encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(WRITE_PREFIX) and line.endswith("\n"):
                    period = line[start : start + 7]
                    if line[start + 7 : start + 8] == '"' and (newest is None or period > newest):
                        newest = period
    except FileNotFoundError:
        return None
    return newest


def load(path: Path | None = None, *, since: str | None = None) -> Ledger:
    """Read the ledger (empty when there is none); malformed lines are skipped.

    ``since`` (a period) leaves out the writes of earlier periods, for a report or status
    that looks only at recent months.
    """
    try:
        lines = _kept_lines(path or ledger_file(), since)
    except FileNotFoundError:
        return Ledger()
    maps: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    ledger = Ledger()
    writes = ledger.writes
    for value in _values(lines):
        try:
            if isinstance(value, dict):
                doc = value["fields"]
                pairs = [(str(k), str(n)) for k, n in doc["map"]]
                maps[str(doc["id"])] = (tuple(k for k, _ in pairs), tuple(n for _, n in pairs))
                ledger.field_ids.add(str(doc["id"]))
            elif value[0] == "w":
                _, period, firm, code, name, client, task, action, fid, counts, at = value
                keys, columns = maps[fid]
                if len(counts) != len(keys):
                    continue
                writes[(firm, period)] = Written(
                    period, firm, code, name, client, task, action, keys, tuple(counts), columns, at
                )  # fmt: skip
            elif value[0] == "a":
                ledger.accepted.add((str(value[2]), str(value[1])))
        except (KeyError, IndexError, TypeError, ValueError):
            continue
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
        paths.ensure_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

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
