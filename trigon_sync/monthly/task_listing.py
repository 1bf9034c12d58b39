"""One period's summary tasks as a run reads them from Uku: bounded however busy the company.

An accounting firm's Uku company holds all of its work (about 100,000 tasks a year for 300
clients), and Uku may drop every filter we send (``topic_id``, ``client_id``, the date
range: no public source says it honours them; unknown parameters are dropped silently).
So the period's listing is judged as it streams in, and is bounded by what can be checked
on the rows themselves:

* **Only candidates are kept**: tasks whose description carries this installation's token
  for the period (or trigon-sync 0.1's), and the tasks the period's journal records (for
  the presence check). Everything else is dropped as its page is judged, so memory does
  not grow with the company's task count; and a kept task keeps of its description only
  what its identity is judged by (a re-count holds the whole period's tasks all run).
* **Newest first, stopped at the window.** The listing asks for ``sort=-created_at``. A
  summary task of a period is made by a run on or after its import day, so never before
  the period's window starts: once a whole page is older than that (less
  :data:`WINDOW_MARGIN`), no later page can hold one. The stop is taken only while the
  order held on every row read (each has ``created_at``, none newer than the one before,
  and at least one older, unless the order is trusted); rows out of order mean Uku
  dropped ``sort``, and the listing is read to its end, as before.
* **Read once per run.** A lookup after a lost create answer (or after an earlier run's
  announced create) does not list the period again by itself: the client waits
  (:class:`Later`) while the others go on, and once they are done the run waits for
  Uku's lists to catch up and re-reads once for all of them (:meth:`PeriodTasks.reread`:
  only the pages newest first down to the last read, or the whole listing when the
  order did not hold).

What Uku honours is plugged in as :class:`TrustedFilters` (the first-contact probe finds
it out; by default nothing is trusted and everything is verified on the rows).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from trigon_sync.errors import ApiError
from trigon_sync.monthly.task_identity import (
    LEGACY_PREFIX,
    MARKER_PREFIX,
    TaskQuery,
    identity_part,
    plain_text,
)
from trigon_sync.uku import Task, UkuClient

WINDOW_MARGIN = dt.timedelta(days=2)
"""Before the window's first day, still read: time zones, and a server clock a little off."""
REREAD_MARGIN = dt.timedelta(minutes=10)
"""A re-read goes this far (plus ``settle_seconds``, the list lag) behind the last read's
start: a task created just before it may not have been listed yet, and the two clocks may
differ by up to the five minutes the clock check allows."""
Now = Callable[[], dt.datetime]


@dataclass(frozen=True)
class TrustedFilters:
    """Which ``GET /tasks`` parameters Uku is known to honour (default: none).

    Each is still sent where it helps and checked on the rows; trusting one lets the
    lookup rely on what cannot be checked: ``q`` that a listing narrowed by our token
    is complete (so the rest of the company is never read), ``sort`` that the order
    holds even before a page shows two different creation times. ``client_id``,
    ``topic_id`` and the date range are sent and welcome, but the bound by creation time
    makes relying on them unnecessary.
    """

    q: bool = False
    """``q`` finds our token in task descriptions."""
    sort: bool = False
    """``sort=-created_at`` lists newest first."""
    client_id: bool = False
    topic_id: bool = False
    date_range: bool = False


NOTHING_TRUSTED = TrustedFilters()


@dataclass(frozen=True)
class ListingStats:
    """What the reads of a period cost (for tests, benchmarks and the docs)."""

    reads: int = 0
    pages: int = 0
    full_reads: int = 0


class PeriodTasks:
    """The candidates of one period's listing, re-read on demand after lost answers."""

    def __init__(
        self,
        uku: UkuClient,
        *,
        installation: str,
        period: str,
        query: TaskQuery,
        window_start: dt.date,
        now: Now,
        settle_seconds: float = 0.0,
        keep_ids: Iterable[int] = (),
        trusted: TrustedFilters = NOTHING_TRUSTED,
    ) -> None:
        self.uku = uku
        self.query = query
        self.now = now
        self.trusted = trusted
        self.token = f"{MARKER_PREFIX}{installation}:{period}"
        self.period = period
        self.keep_ids = frozenset(keep_ids)
        self.since = dt.datetime.combine(window_start, dt.time(), tzinfo=dt.UTC) - WINDOW_MARGIN
        self.reread_margin = REREAD_MARGIN + dt.timedelta(seconds=max(0.0, settle_seconds))
        self._tasks: dict[int, Task] = {}
        self._started: dt.datetime | None = None
        self._ordered = True
        """Whether every row read so far came newest first (else re-reads are full)."""
        self._sort = True
        """False once Uku refused ``sort`` (a 4xx): the rest of the run lists without it."""
        self._titles: dict[str, str] = {}
        self._lock = threading.Lock()
        self.stats = ListingStats()

    # -- what the run asks ---------------------------------------------------------------

    @property
    def tasks(self) -> list[Task]:
        """The candidates as last read (our tasks of the period, and recorded ones)."""
        with self._lock:
            return list(self._tasks.values())

    def read(self) -> list[Task]:
        """The period's listing, read once at the start of the run."""
        started = self.now()
        found, _ = self._read(None)
        with self._lock:
            self._tasks, self._started = found, started
            return list(found.values())

    def covers(self, moment: dt.datetime) -> bool:
        """Whether the last read started at or after ``moment``."""
        with self._lock:
            return self._started is not None and self._started >= moment

    def reread(self, ready: dt.datetime) -> list[Task]:
        """Read again what may have changed since the last read, for the lookups waiting
        until ``ready`` (the run has waited until then): the pages newest first down to
        the last read's start (less the list lag and clock margin), or the whole listing
        when the order did not hold. The candidates of the earlier read are kept."""
        started = self.now()
        with self._lock:
            before, ordered = self._started, self._ordered
        bound = before - self.reread_margin if before is not None and ordered else None
        found, complete = self._read(bound)
        with self._lock:
            if complete:  # read to its end: what it holds is all there is
                self._tasks = found
            else:
                self._tasks.update(found)
            self._started = max(started, ready)
            return list(self._tasks.values())

    # -- reading -------------------------------------------------------------------------

    def _read(self, bound: dt.datetime | None) -> tuple[dict[int, Task], bool]:
        """Candidates from the listing, newest first down to ``bound`` (the window's
        start when None), or to the end when the order does not hold; and whether every
        listing was read to its end."""
        found: dict[int, Task] = {}
        queries = [self.token, LEGACY_PREFIX] if self.trusted.q else [None]
        pages = 0
        full = True
        for q in queries:
            read, complete = self._one_listing(q, bound or self.since, found)
            pages += read
            full = full and complete
        self.stats = ListingStats(
            self.stats.reads + 1, self.stats.pages + pages, self.stats.full_reads + full
        )
        return found, full

    def _one_listing(
        self, q: str | None, bound: dt.datetime, found: dict[int, Task]
    ) -> tuple[int, bool]:
        """Stream one listing into ``found``; (pages read, whether it was read to its end)."""
        last: dt.datetime | None = None
        decreased = False
        pages = 0
        for page in self._pages(q):
            pages += 1
            for task in page:
                if self._candidate(task):
                    found[task.id] = self._kept(task)
                created = task.created_at
                if created is None or (last is not None and created > last):
                    self._ordered = False
                elif last is not None and created < last:
                    decreased = True
                last = created if created is not None else last
            # newest first, so the page's last row is its oldest and every later row older
            ordered = self._ordered and (decreased or self.trusted.sort)
            if ordered and last is not None and last < bound:
                return pages, False
        return pages, True

    def _pages(self, q: str | None) -> Iterator[list[Task]]:
        """The listing's pages, newest first if Uku takes ``sort`` (a 4xx to it: without)."""
        query = self.query
        while True:
            pages = self.uku.task_pages(
                topic_id=query.topic_id,
                date_from=query.date_from,
                date_to=query.date_to,
                q=q,
                newest_first=self._sort,
            )
            try:
                first = next(pages, None)
            except ApiError as exc:
                if not self._sort or exc.status not in (400, 422):
                    raise
                self._sort = False  # Uku refuses the order we ask for: list as it comes
                self._ordered = False
                continue
            if not self._sort:
                self._ordered = False
            if first is not None:
                yield first
                yield from pages
            return

    def _kept(self, task: Task) -> Task:
        """A candidate as the run keeps it: its description cut to what its identity is
        judged by (``identity_part``), its title shared with the other candidates that
        carry the same one (a period's titles are mostly one text)."""
        title = self._titles.setdefault(task.title, task.title)
        return replace(task, title=title, description=identity_part(task.description))

    def _candidate(self, task: Task) -> bool:
        """Ours for this period (any client: the run judges whose), or recorded."""
        if task.id in self.keep_ids:
            return True
        text = task.description or ""
        if self.token in text or self._legacy(text):
            return True
        if "&" in text or "<" in text:  # rich text: tags or entities around the token
            plain = plain_text(text)
            return self.token in plain or self._legacy(plain)
        return False

    def _legacy(self, text: str) -> bool:
        return LEGACY_PREFIX in text and f":{self.period}" in text


class Later(Exception):
    """A client's step must look at Uku's tasks again, once its lists show ``ready``: the
    run re-reads for every such client at once, then calls ``resume``."""

    def __init__(self, ready: dt.datetime, resume: Callable[[], object]) -> None:
        super().__init__(f"waits for a re-read of the task listing from {ready.isoformat()}")
        self.ready = ready
        self.resume = resume

    def then(self, after: Callable[[object], object]) -> Later:
        """The same wait, with ``after`` applied to what ``resume`` gives (also when it
        has to wait again)."""

        def resumed() -> object:
            try:
                value = self.resume()
            except Later as again:
                raise again.then(after) from None
            return after(value)

        return Later(self.ready, resumed)
