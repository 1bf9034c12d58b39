"""The monthly run: counts from Trigon -> one summary task per client and period in Uku.

Uku bills from these tasks, so the guarantees matter more than speed:

* **Exactly once.** Before creating, the run lists the period's tasks once and finds ours
  by its identity (Uku client, period, this installation: monthly/task_identity.py); the
  listing streams, keeps only candidates and stops at the window's start when Uku lists
  newest first (monthly/task_listing.py), so a busy company costs no more. Creating,
  adopting and reading back a task is monthly/task_writer.py's job, which never trusts Uku's
  Idempotency-Key, filters or list freshness to prevent a second task.
* **Resumable.** Each finished client is one fsync'd line in the period's journal
  (journal.py); a re-run skips those and re-checks Uku for the rest.
* **Each link is checked before anything is written.** Once per run the linked Uku
  clients are read (one listing) and each link is checked (clients/link_check.py): same Uku
  company as when linked, the client still there, its registration code still the
  firm's, the firm's code unchanged in Trigon. A link that fails is that client's failure,
  with the command that resolves it; nothing is written onto its Uku client.
* **The window moves only when the whole period is done.** A client that cannot be done
  (no View, firm gone, Uku refuses the data) is reported by name and the others go on;
  ``last_period_end`` stays, later periods wait, and the next run retries only it.
  Trouble that is not about one client (Trigon or Uku unreachable, token revoked) stops
  the run: clients in flight finish, nothing new starts, the error is raised.

Counts are fetched from a bounded thread pool; the HTTP layer paces requests by the
services' ``X-RateLimit-*`` headers and retries what is safe to retry.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from trigon_sync.clients.link_guard import check_links
from trigon_sync.clients.links import stamp_company
from trigon_sync.http import waits as http_waits
from trigon_sync.monthly import actions, owing, task_presence
from trigon_sync.monthly.actions import Rules
from trigon_sync.monthly.gate import require_ready, schedule_for
from trigon_sync.monthly.history import record_run
from trigon_sync.monthly.plan import (
    Targets,
    rerun_targets,
    resolve_targets,
    sorted_links,
    unlinked_warning,
)
from trigon_sync.monthly.pool import run_pool
from trigon_sync.monthly.result import ClientOutcome, MonthlyResult, PeriodResult, repairs
from trigon_sync.monthly.review import Review
from trigon_sync.monthly.step import ClientFailed, ClientStep, task_identity
from trigon_sync.monthly.task_identity import Claims, Found, index
from trigon_sync.monthly.task_listing import NOTHING_TRUSTED, Later, PeriodTasks, TrustedFilters
from trigon_sync.monthly.task_writer import ATTEMPTS
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run
from trigon_sync.settings.config import Config
from trigon_sync.store import installation, journal, owed, restore_mark
from trigon_sync.store.state import ClientLink, State, StateSession, load_state, locked_state
from trigon_sync.trigon import Firm, TrigonClient
from trigon_sync.uku import Task, UkuClient
from trigon_sync.uku.settling import LOST_ANSWER_WAIT

DEFAULT_WORKERS = 8
NO_INSTALLATION = "0" * 16
"""A dry run's id before any real run: no task carries it (tasks of trigon-sync 0.1 are
still recognised by their own marker)."""
Now = Callable[[], dt.datetime]


class _Stop(Exception):
    """Internal: a systemic failure elsewhere; do not start this client."""


class _Waits(_Stop):
    """Internal: this client waits for a re-read of the listing (a later round)."""


ProgressHook = Callable[[ClientOutcome], None]
PeriodHook = Callable[[Run, int], None]


class MonthlyRun:
    """One invocation of run-monthly against live clients (or a dry run of it)."""

    review: Review
    """Flags, holds and the ledger (monthly/review.py); opened by ``plan`` and ``execute``."""

    def __init__(
        self,
        config: Config,
        trigon: TrigonClient,
        uku: UkuClient,
        *,
        today: dt.date,
        now: Now,
        workers: int = DEFAULT_WORKERS,
        on_period: PeriodHook | None = None,
        on_client: ProgressHook | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        halt: threading.Event | None = None,
        include_finished: bool = False,
        trusted: TrustedFilters = NOTHING_TRUSTED,
    ) -> None:
        self.trusted = trusted
        """What Uku is known to honour on ``GET /tasks`` (monthly/task_listing.py)."""
        self.config = config
        self.trigon = trigon
        self.uku = uku
        self.today = today
        self.now = now
        self.workers = max(1, workers)
        self.on_period = on_period
        self.on_client = on_client
        self.monotonic = monotonic
        self.sleep = sleep
        self.installation = installation.read() or NO_INSTALLATION
        """This home's id in its tasks; made by the first real run (a dry run reads it)."""
        self.halt = halt
        """Set from outside (a signal, the run's time bound): start no more clients."""
        self.include_finished = include_finished
        """``--rerun --include-finished``: tasks Uku shows as finished are changed too."""
        self.restored: restore_mark.Mark | None = None
        """In a home restored from a backup, its mark: the moment every client not recorded
        as done counts as announced at, and why (store/restore_mark.py); None otherwise."""

    # -- entry points --------------------------------------------------------------------

    def plan(self, state: State, runs: Sequence[Run], *, rerun: bool = False) -> MonthlyResult:
        """``--dry-run``: the real run without its writes. It reads Trigon and Uku the same
        way and decides every client with the same step, so a client the real run would
        fail fails here too, with its reason, and owes its period as it would;
        nothing is written anywhere (Uku, state, journal, ledger)."""
        return self._run(None, state, runs, rerun=rerun)

    def execute(
        self,
        session: StateSession,
        runs: Sequence[Run],
        *,
        rerun: bool = False,
        after_client: ProgressHook | None = None,
    ) -> MonthlyResult:
        """Do the due periods in order (or re-count one completed period with ``rerun``).

        Saves state when a period opens and when it completes, and always appends a run
        record to the history, also when a systemic error stops the run (re-raised).
        ``after_client`` is test-only: it runs after a client's journal line is written.
        """
        return self._run(session, session.state, runs, rerun=rerun, after_client=after_client)

    def _run(
        self,
        session: StateSession | None,
        state: State,
        runs: Sequence[Run],
        *,
        rerun: bool,
        after_client: ProgressHook | None = None,
    ) -> MonthlyResult:
        """The run itself; ``session`` None is the dry run (the one difference: no writes)."""
        started = self.monotonic()
        warned = len(self.uku.warnings)
        dry_run = session is None
        label = rerun_label(runs) if rerun else None
        result = MonthlyResult(self.today, dry_run=dry_run, rerun=label)
        self.review = Review.open(
            self.config.anomalies,
            dry_run=dry_run,
            state=state,
            first=min((run.period for run in runs), default=None),
        )
        error: BaseException | None = None
        try:
            # a home restored from a backup: creates its copy lacks may not be listed yet
            settle = self.config.uku.settle_seconds
            self.restored = restore_mark.pending(self.now(), settle, write=not dry_run)
            if self.restored is not None:  # said once, also under cron and in the log
                mark = self.restored
                result.notes.append(mark.dry_run_note(settle) if dry_run else mark.note(settle))
            targets = self._targets()
            result.field_names = {t.key: t.field_name for t in targets.fields}
            firms = self.trigon.list_firms()
            listed = self._firm_list(state, result, firms)
            if session is not None:  # links older than the company record: see state.py
                stamp_company(state, self.uku.company)
            refused = check_links(self.uku, state.links.values(), firms)
            owed_before = [] if rerun else owing.stored(state)
            for run, firms_owing in [] if rerun else owing.retries(state, owed_before):
                if self._halted():
                    break
                self._period(
                    session,
                    state,
                    run,
                    targets,
                    listed,
                    refused,
                    result,
                    rerun=False,
                    after_client=after_client,
                    owing=firms_owing,
                )
            for index, run in enumerate(runs):
                if self._halted():  # stopped between periods: open no further one
                    result.deferred = list(runs[index:])
                    break
                period = self._period(
                    session,
                    state,
                    run,
                    targets,
                    listed,
                    refused,
                    result,
                    rerun=rerun,
                    after_client=after_client,
                )
                if not period.complete and not rerun:
                    # only a period not attempted for every client (a halt) holds back the
                    # next: a client that failed owes its period and the chain goes on
                    result.deferred = list(runs[index + 1 :])
                    break
            if not rerun:
                owed_now = {(p.firm, p.period) for p in owed_before}
                new = {
                    (o.link.trigon_id, p.run.period)
                    for p in result.periods
                    if p.complete and not p.late
                    for o in p.outcomes
                    if not o.ok
                } - owed_now
                first = owing.first_failed(state, new, [p.run for p in result.periods])
                result.owed = owing.after_run(owed_before, result, first)
        except http_waits.Stopped:
            if not self._halted():
                raise
            # Stopped while waiting before any client of the period started.
            result.deferred = list(runs[len(result.periods) :])
        except BaseException as exc:
            error = exc
            raise
        finally:
            result.warnings.extend(self._uku_warnings(warned))
            result.duration = self.monotonic() - started
            result.requests = self._requests()
            if session is not None:
                self._record(session, result, error)
        return result

    # -- one period ----------------------------------------------------------------------

    def _period(
        self,
        session: StateSession | None,
        state: State,
        run: Run,
        targets: Targets,
        listed: Mapping[str, bool] | None,
        refused: Mapping[str, str],
        result: MonthlyResult,
        *,
        rerun: bool,
        after_client: ProgressHook | None,
        owing: frozenset[str] | None = None,
    ) -> PeriodResult:
        """One period, for real (``session``) or as a dry run (None: nothing written).

        ``refused``: firm id -> why its link no longer holds (link_guard.check_links);
        such a client fails with that reason and nothing is written onto its Uku client.
        ``owing``: retry only these clients' owed tasks of this completed period, on its
        own window, through the same journal rows (intents, done) as any run.
        """
        period = PeriodResult(run, late=owing is not None)
        result.periods.append(period)
        # a --rerun's (and an owed retry's) rows go with the period's archived rows
        book = journal.PeriodJournal(run, archived=rerun or owing is not None)
        opened = period_record.open_run(state) == run
        if owing is not None:
            opened = False
            if session is not None:
                self.installation = installation.ensure()
        elif session is not None:
            self.installation = installation.ensure()  # on disk before any task carries it
            topic_id = targets.topic_id
            if not rerun and period_record.mark_open(state, run, self.now(), topic_id=topic_id):
                session.save()
            opened = not rerun
        topic = (period_record.open_topic(state) if opened else None) or targets.topic_id
        query = ClientStep.query(run, topic)
        links = sorted_links(state)
        linked = {link.trigon_id for link in links}
        # A client whose link no longer holds (another company, re-coded, gone) is judged by
        # that reason alone: its recorded task is not looked for where it cannot be. A
        # re-count needs only which task each client has, not the counts it once wrote.
        recorded = {
            firm: e
            for firm, e in book.load(with_counts=not rerun).items()
            if firm in linked and firm not in refused
        }
        listing = PeriodTasks(
            self.uku,
            installation=self.installation,
            period=run.period,
            query=query,
            window_start=run.window_start,
            now=self.now,
            settle_seconds=self.config.uku.settle_seconds,
            keep_ids=(entry.task for entry in recorded.values()),
            trusted=self.trusted,
        )
        listed_tasks = listing.read()  # once per period; lost answers re-read only the newest
        lost = task_presence.losses(
            recorded, listed_tasks, self.uku.get_task, at=self.now().isoformat(timespec="seconds")
        )
        if session is not None:  # what the run found, on disk before anything is made again
            for firm, loss in lost.items():
                book.lose(firm, loss)
        if owing is not None:
            # an owed retry lists the period's tasks anyway: a client whose recorded task
            # is gone from it in Uku is retried with the owing ones (made again once)
            gone = {f for f, e in recorded.items() if e.lost is not None} | set(lost)
            links = [link for link in links if link.trigon_id in owing | gone]
        claims = task_presence.claims(recorded, lost)
        done = (
            {} if rerun else {f: e for f, e in recorded.items() if e.lost is None and f not in lost}
        )
        found = self._existing_tasks(links, run, listed_tasks, claims, result)
        rules = Rules(
            targets,
            auto_complete=self.config.summary.auto_complete,
            rerun=rerun,
            include_finished=self.include_finished,
            assess=lambda plan: self.review.assess(plan, run, targets),
        )
        step = ClientStep(
            self.config,
            self.trigon,
            self.uku,
            self.review,
            run=run,
            rules=rules,
            book=book,
            query=query,
            installation=self.installation,
            now=self.now,
            listing=listing,
            sleep=self.sleep,
        )
        if self.on_period:
            self.on_period(run, len(links))
        stop = threading.Event()
        fatal: list[BaseException] = []
        stopped = lambda: stop.is_set() or self._halted()  # noqa: E731

        intents = book.intents()
        mark = self.restored
        announced = actions.restored_announced(
            intents,
            (link.trigon_id for link in links if link.trigon_id not in done),
            None if mark is None else mark.at,
        )
        # a client whose own intent is not in the copy counts as announced for the restore
        why = {} if mark is None else {f: mark.why() for f in announced if f not in intents}
        facts = actions.PeriodFacts(
            rules,
            refused=refused,
            done=done,
            listed=listed,
            found={client: f.task for client, f in found.items()},
            announced=announced,
            recorded=recorded,
            why=why,
        )

        def act(link: ClientLink) -> ClientOutcome:
            """The client's action carried out, or in a dry run shown as decided: one
            decision either way, so the dry run's list is the real run's."""
            action = actions.client_action(link, facts, step.count)
            if session is None:
                return ClientOutcome.planned(action)
            return step.carry_out(action, recorded=recorded.get(link.trigon_id))

        # Each client is decided and carried out on one worker, one after the other, so
        # Trigon's counting of some clients overlaps Uku's writes for others: the run
        # stays at the slower service's rate-limit floor, not the sum of both.
        outcomes = self._clients(links, act, listing, stopped, stop, fatal, after_client)
        period.outcomes = [outcomes[link.trigon_id] for link in links if link.trigon_id in outcomes]
        period.not_started = len(links) - len(period.outcomes)
        result.warnings.extend(o.warning for o in period.outcomes if o.warning)
        period.repairs = repairs(run, links, lost, period.outcomes, dry_run=session is None)
        if fatal:
            raise fatal[0]
        if rerun:
            period.complete = not period.failed and period.not_started == 0
            return period
        if owing is not None:
            period.complete = not period.failed and period.not_started == 0
            if session is not None:
                self._settle_owed(run, period)
            return period
        if session is None:
            period.complete = period.not_started == 0
            return period
        if period.not_started == 0:
            # every client was attempted: the failed ones owe the period, the window moves
            self._settle_owed(run, period, state)
            written = book.actions()
            period_record.mark_completed(
                state,
                run,
                self.now(),
                clients=len(period.outcomes),
                tasks_created=written["create"],
                tasks_updated=written["update"],
            )
            session.save()
            book.archive()
            period.complete = True
        return period

    def _settle_owed(self, run: Run, period: PeriodResult, state: State | None = None) -> None:
        """Record each failed client as owing ``run``'s period and each done one as not
        owing it (on disk before the period is folded into state), dated with the run's
        Tallinn date (``--today`` on a replayed night), as the run's own ``owed:`` lines,
        or, for a period finished now that an earlier night failed (``state`` given: the
        period's own run, not a retry), that night's (owing.first_failed)."""
        on = self.today
        failed = {(o.link.trigon_id, run.period) for o in period.outcomes if not o.ok}
        first = {} if state is None else owing.first_failed(state, failed, [run])
        for outcome in period.outcomes:
            firm = outcome.link.trigon_id
            if not outcome.ok:
                since = min(
                    dt.date.fromisoformat(first.get((firm, run.period), on.isoformat())), on
                )
                owed.owe(firm, run.period, outcome.error or "failed", since)
            elif outcome.task_id is not None or outcome.plan.task_id is not None:
                task = outcome.task_id or outcome.plan.task_id or 0
                owed.settle(firm, run.period, outcome.link.uku_client_id, task, on)

    # -- reads ---------------------------------------------------------------------------

    def _targets(self) -> Targets:
        return resolve_targets(
            self.config, self.uku.list_topics(), self.uku.list_custom_fields("task")
        )

    def _firm_list(
        self, state: State, result: MonthlyResult, firms: Sequence[Firm]
    ) -> dict[str, bool] | None:
        """One firm list per run: unlinked firms become a warning, and linked firms that
        are gone or lack View are known before any count is asked for."""
        warning = unlinked_warning(((f.id, f.name, f.registration_code) for f in firms), state)
        if warning:
            result.warnings.append(warning)
        return {f.id: f.viewable for f in firms}

    def _existing_tasks(
        self,
        links: Sequence[ClientLink],
        run: Run,
        tasks: Sequence[Task],
        claims: Claims,
        result: MonthlyResult,
    ) -> dict[int, Found]:
        """Our tasks of this period by Uku client id: one listing, judged by identity (and
        a task the records claim for another client is never this client's)."""
        identities = [task_identity(self.installation, link, run) for link in links]
        found = index(identities, tasks, claims)
        for link in links:
            mine = found[link.uku_client_id]
            if mine.task is not None and mine.doubles:  # find() keeps the oldest, lists the rest
                others = ", ".join(str(t.id) for t in mine.doubles)
                result.warnings.append(
                    f"Uku has {len(mine.doubles) + 1} summary tasks for {link.name} "
                    f"({link.registration_code}) in {run.period} (task {mine.task.id} and "
                    f"{others}); trigon-sync keeps task {mine.task.id} up to date — delete the "
                    "others in Uku"
                )
        return found

    def _halted(self) -> bool:
        return self.halt is not None and self.halt.is_set()

    def _pool(
        self,
        items: Sequence[Item],
        job: Callable[[Item], Done],
        *,
        stopped: Callable[[], bool] = lambda: False,
        on_done: Callable[[Done], None] | None = None,
    ) -> list[Done]:
        """Run ``job`` per item on the bounded pool; what each returns, in item order (an
        item stopped before it started has nothing)."""
        return run_pool(
            items, job, workers=self.workers, on_done=on_done, stopped=stopped, skip=_Stop
        )

    def _clients(
        self,
        links: Sequence[ClientLink],
        act: Callable[[ClientLink], ClientOutcome],
        listing: PeriodTasks,
        stopped: Callable[[], bool],
        stop: threading.Event,
        fatal: list[BaseException],
        after_client: ProgressHook | None,
    ) -> dict[str, ClientOutcome]:
        """Each client's action on the pool; each worker returns its client's outcome
        (collected here, in this thread). A client whose create lost its answer (or an
        earlier run's) waits for Uku's lists to catch up; then one re-read of the listing
        serves them all. Every round follows a create sent, so ATTEMPTS bounds the rounds."""
        jobs: dict[str, Callable[[], object]] = {
            link.trigon_id: functools.partial(act, link) for link in links
        }
        outcomes: dict[str, ClientOutcome] = {}
        todo = list(links)
        for rounds in range(ATTEMPTS + 2):
            job = functools.partial(
                _carried,
                jobs=jobs,
                stopped=stopped,
                stop=stop,
                fatal=fatal,
                after_client=after_client,
            )
            done = self._pool(todo, job, stopped=stopped, on_done=self._progressed)
            waiting: dict[str, Later] = {}
            for got in done:
                if isinstance(got, ClientOutcome):
                    outcomes[got.link.trigon_id] = got
                else:
                    waiting[got[0]] = got[1]
            if not waiting or fatal or stopped() or rounds > ATTEMPTS:
                break
            ready = max(later.ready for later in waiting.values())
            wait = max(0.0, (ready - self.now()).total_seconds())
            if wait > 0:  # a person watching is told what for (the restore, or lost answers)
                why = LOST_ANSWER_WAIT if self.restored is None else self.restored.wait_reason()
                http_waits.announce(http_waits.Wait("Uku", wait, why))
            self.sleep(wait)
            listing.reread(ready)
            jobs = {firm: later.resume for firm, later in waiting.items()}
            todo = [link for link in links if link.trigon_id in waiting]
        return outcomes

    def _progressed(self, got: ClientOutcome | tuple[str, Later]) -> None:
        if self.on_client is not None and isinstance(got, ClientOutcome):
            self.on_client(got)

    def _uku_warnings(self, since: int) -> list[str]:
        """What Uku noted on its answers during this run (a value it ignored, say): the
        run must not look clean when Uku said otherwise; one line per distinct warning."""
        seen = Counter((w.code, w.message) for w in self.uku.warnings[since:])
        return [
            f"Uku warned{f' {n} times' if n > 1 else ''}: {message} ({code})"
            for (code, message), n in seen.items()
        ]

    def _requests(self) -> dict[str, Any]:
        return {"trigon": self.trigon.stats.as_dict(), "uku": self.uku.stats.as_dict()}

    def _record(
        self, session: StateSession, result: MonthlyResult, error: BaseException | None
    ) -> None:
        """Append the run to the history and save, whatever happened."""
        record_run(session, result, error, at=self.now(), interrupted=self._halted())


Item = TypeVar("Item")
Done = TypeVar("Done")


def _carried(
    link: ClientLink,
    *,
    jobs: Mapping[str, Callable[[], object]],
    stopped: Callable[[], bool],
    stop: threading.Event,
    fatal: list[BaseException],
    after_client: ProgressHook | None,
) -> ClientOutcome | tuple[str, Later]:
    """One client on a worker, which returns what became of it: its outcome (a failure
    is one), or the wait for a re-read of the listing (the next round resumes it);
    trouble that is not about the client stops the run (clients in flight finish,
    nothing new starts)."""
    if stopped():
        raise _Stop
    firm = link.trigon_id
    try:
        outcome = cast("ClientOutcome", jobs[firm]())
    except ClientFailed as failed:
        return ClientOutcome(failed.plan, ok=False, error=failed.reason)
    except Later as later:
        return (firm, later)
    except http_waits.Stopped:
        # The run is stopping and this client's next read would have had to wait (a rate
        # limit, a backoff): it stops here, counted as not started; what it wrote before
        # is in the journal, which the next run reads.
        raise _Stop from None
    except BaseException as exc:
        stop.set()
        fatal.append(exc)
        raise
    if after_client is not None:
        after_client(outcome)
    return outcome


def run_monthly(
    config: Config,
    trigon: TrigonClient,
    uku: UkuClient,
    *,
    today: dt.date,
    now: Now,
    dry_run: bool = False,
    rerun: str | None = None,
    workers: int = DEFAULT_WORKERS,
    on_period: PeriodHook | None = None,
    on_client: ProgressHook | None = None,
    after_client: ProgressHook | None = None,
    sleep: Callable[[float], None] = time.sleep,
    halt: threading.Event | None = None,
    include_finished: bool = False,
    trusted: TrustedFilters = NOTHING_TRUSTED,
) -> MonthlyResult:
    """The whole command behind the CLI: read state, decide what is due, plan or execute.

    ``rerun`` is one completed period or a range ``FROM..TO`` (plan.rerun_targets).

    A real run holds the state lock throughout and re-reads state under it; a dry run
    reads state without the lock and changes nothing (not even the lock file).
    """
    runner = MonthlyRun(
        config,
        trigon,
        uku,
        today=today,
        now=now,
        workers=workers,
        on_period=on_period,
        on_client=on_client,
        sleep=sleep,
        halt=halt,
        include_finished=include_finished,
        trusted=trusted,
    )
    if dry_run:
        state = load_state()
        runs = _runs(config, state, today, rerun)
        if not runs and (rerun is not None or not owing.stored(state)):
            return MonthlyResult(today)
        return runner.plan(state, runs, rerun=rerun is not None)
    with locked_state() as session:
        runs = _runs(config, session.state, today, rerun)
        if not runs and (rerun is not None or not owing.stored(session.state)):
            return MonthlyResult(today)
        return runner.execute(session, runs, rerun=rerun is not None, after_client=after_client)


def _runs(config: Config, state: State, today: dt.date, rerun: str | None) -> list[Run]:
    require_ready(config, len(state.links))
    if rerun is not None:
        return rerun_targets(state, rerun)
    return list(schedule_for(config, state, today).due)


def rerun_label(runs: Sequence[Run]) -> str:
    """How a re-count names its periods: ``2024-11``, or ``2024-09..2024-11``."""
    first, last = runs[0].period, runs[-1].period
    return first if first == last else f"{first}..{last}"
