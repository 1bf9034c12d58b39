"""What keeps memory flat over years of history: reads limited to what the answer needs.

``explain`` reads only the journal rows of the periods asked and of one client, by index,
the ledger is streamed in chunks and can keep only some firms, and the monthly run's
review keeps per client only the periods a check can look at. Figures are in
benchmarks/memory_bench.py; these tests pin the mechanisms and that answers stay the same.
"""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from trigon_sync.billing.explain_records import read_journals
from trigon_sync.monthly.plan import ClientPlan, Target, Targets
from trigon_sync.monthly.review import History, Review
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import Run
from trigon_sync.settings.config import AnomalySettings
from trigon_sync.store import journal, ledger, records_db
from trigon_sync.store.state import ClientLink, State

AT = dt.datetime(2024, 10, 31, 0, 30, tzinfo=dt.UTC)
MAP = (("sales_invoices_created", "Sales invoices"), ("payments_created", "Payments"))
PERIODS = [f"2024-{m:02d}" for m in range(1, 10)]


def month(period: str) -> Run:
    year, number = (int(x) for x in period.split("-"))
    start = dt.date(year, number, 1)
    end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return Run(import_day=end, window_start=start, window_end=end, period=period)


def history_state(firms: list[str], periods: list[str]) -> State:
    """Every firm linked; each period completed with an archived journal line per firm."""
    state = State()
    for n, firm in enumerate(firms):
        state.links[firm] = ClientLink(
            firm, f"1000000{n}", f"Firm {firm}", 100 + n, dt.date(2023, 1, 1)
        )
    for period in periods:
        run = month(period)
        book = journal.PeriodJournal(run)
        for n, firm in enumerate(firms):
            counts = {"sales_invoices_created": 10 + n, "payments_created": 1}
            book.append(journal.Entry(firm, 100 + n, 5000 + n, "create", counts), AT)
        book.archive()
        period_record.mark_completed(state, run, AT, clients=len(firms))
    return state


def write_ledger(firms: list[str], periods: list[str], count: int = 10) -> None:
    writer = ledger.LedgerWriter()
    for period in periods:
        for n, firm in enumerate(firms):
            writer.write(
                period=period, firm=firm, registration_code=f"1000000{n}", name=f"Firm {firm}",
                uku_client=100 + n, task=7000 + n, action="create", mapping=MAP,
                counts={"sales_invoices_created": count, "payments_created": 1}, at=AT,
            )  # fmt: skip


class JournalQueries:
    """The journal queries the product sends to the records database, with their values
    (SQLite's trace of each statement as run), and how SQLite answers each."""

    def __init__(self) -> None:
        self.db = records_db.shared(create=True)
        self.sent: list[str] = []
        self.db.connection.set_trace_callback(self.sent.append)

    def reads(self) -> list[str]:
        return [q for q in self.sent if q.startswith("SELECT") and "FROM task_events" in q]

    def plan(self, query: str) -> list[str]:
        rows = self.db.connection.execute("EXPLAIN QUERY PLAN " + query).fetchall()
        return [row[-1] for row in rows]


def test_explain_of_one_period_reads_only_that_periods_rows_by_index() -> None:
    """`explain --period`: one client's rows of that period (archived and open), found
    through the index, no other period's."""
    state = history_state(["f1", "f2"], PERIODS)
    queries = JournalQueries()
    found = read_journals(state, "f2", periods={"2024-05"})
    reads = queries.reads()
    assert len(reads) == 2 and all("'2024-05'" in q and "'f2'" in q for q in reads)
    for query in reads:
        assert queries.plan(query) == [
            "SEARCH task_events USING INDEX task_events_by_period "
            "(period=? AND archived=? AND firm=?)"
        ]
    assert found["2024-05"]["f2"].task == 5001


def test_explain_keeps_only_the_asked_clients_lines() -> None:
    """Every period is read once, and only this client's row of each is kept."""
    state = history_state(["f1", "f2", "f10"], PERIODS)
    queries = JournalQueries()
    found = read_journals(state, "f1")
    assert len(queries.reads()) == 2 * len(PERIODS)
    assert sorted(found) == PERIODS
    assert all(list(entries) == ["f1"] for entries in found.values())  # not "f10"
    assert found["2024-09"]["f1"].counts["sales_invoices_created"] == 10


def test_the_ledgers_newer_write_still_wins_in_explain() -> None:
    """A re-count's ledger line gives the counts; the journal says how the task came to be."""
    state = history_state(["f1", "f2"], PERIODS)
    write_ledger(["f1", "f2"], ["2024-09"], count=99)
    entry = read_journals(state, "f2")["2024-09"]["f2"]
    assert entry.counts["sales_invoices_created"] == 99 and entry.action == "create"


def test_the_ledger_can_keep_only_some_firms() -> None:
    """`firms`: their writes and acceptances only; an id inside another id does not match."""
    write_ledger(["f1", "f12", "f2"], PERIODS[:2])
    writer = ledger.LedgerWriter()
    writer.accept("2024-02", "f1", AT)
    writer.accept("2024-02", "f12", AT)
    book = ledger.load(firms={"f1"})
    assert sorted(book.writes) == [("f1", "2024-01"), ("f1", "2024-02")]
    assert book.accepted == {("f1", "2024-02")}
    assert book.field_ids  # the mapping lines are always read


def test_the_review_history_keeps_only_what_a_check_can_look_at() -> None:
    """Before the run's first period, only the newest `depth` periods per firm stay."""
    history = History(depth=3, first="2024-08")
    for period in reversed(PERIODS):  # any order: a re-count appends an old period late
        history.add("f1", period, {"x": 1})
    assert sorted(history.by_firm["f1"]) == ["2024-05", "2024-06", "2024-07", "2024-08", "2024-09"]
    history.add("f1", "2024-01", {"x": 9})  # too old to ever be looked at
    assert "2024-01" not in history.by_firm["f1"]


def targets() -> Targets:
    return Targets(
        topic_id=1,
        topic_name="Bookkeeping",
        fields=tuple(Target(key, n, name) for n, (key, name) in enumerate(MAP)),
    )


@pytest.mark.parametrize("spike", [False, True])
def test_bounded_review_flags_exactly_as_the_whole_history(spike: bool) -> None:
    """A run from 2024-10 judges each client as if every period had been kept."""
    firms = ["f1", "f2"]
    state = history_state(firms, PERIODS[:3])  # 2024-01..03 only in journals (an upgrade)
    write_ledger(firms, PERIODS[3:])
    settings = AnomalySettings(history_periods=3)
    bounded = Review.open(settings, dry_run=True, state=state, first="2024-10")
    whole = Review.open(settings, dry_run=True, state=state, first=None)
    october = month("2024-10")
    for n, firm in enumerate(firms):
        link = state.links[firm]
        counts = {"sales_invoices_created": 500 if spike else 10, "payments_created": 1}
        plan = ClientPlan(link=link, action="create", counts=counts)
        flags = bounded.assess(plan, october, targets()).flags
        assert flags == whole.assess(plan, october, targets()).flags
        assert bool(flags) is spike, n
    assert len(bounded.history.by_firm["f1"]) == 4  # 3 before 2024-10, and 2024-10 itself
    assert len(whole.history.by_firm["f1"]) == len(PERIODS) + 1


def test_the_review_reads_no_journal_the_ledger_makes_useless() -> None:
    """With `depth` newer ledger periods for every linked firm, older journals are not
    read at all."""
    state = history_state(["f1"], PERIODS)
    write_ledger(["f1"], PERIODS[4:])
    queries = JournalQueries()
    review = Review.open(
        AnomalySettings(history_periods=3), dry_run=True, state=state, first="2024-10"
    )
    assert sorted(review.history.by_firm["f1"]) == ["2024-07", "2024-08", "2024-09"]
    assert not [q for q in queries.reads() if "'2024-02'" in q]
    assert not queries.reads()  # nor those of 2024-07..09: the ledger has every line's period


def test_the_review_reads_a_newer_periods_journal_only_for_firms_the_ledger_lacks() -> None:
    """A period the ledger has for f1 but not for f2 (a gap): its journal is read for f2
    only, and f2 is judged as with the whole history."""
    state = history_state(["f1", "f2"], PERIODS)
    write_ledger(["f1"], PERIODS[4:])
    write_ledger(["f2"], PERIODS[4:7])  # 2024-05..07; 2024-08 and 09 only in the journals
    queries = JournalQueries()
    settings = AnomalySettings(history_periods=3)
    bounded = Review.open(settings, dry_run=True, state=state, first="2024-10")
    reads = queries.reads()
    assert reads and all("'f2'" in q and "'f1'" not in q for q in reads), reads
    whole = Review.open(settings, dry_run=True, state=state, first=None)
    assert bounded.history.earlier("f2", "2024-10") == whole.history.earlier("f2", "2024-10")[-3:]
    assert sorted(bounded.history.by_firm["f2"]) == ["2024-07", "2024-08", "2024-09"]


def test_a_client_known_only_from_old_journals_keeps_that_history() -> None:
    """One client with the ledger's six periods, one counted only before the ledger existed:
    the second is judged against its journals, exactly as with the whole history."""
    state = history_state(["f1", "f2"], PERIODS[:3])  # both in the journals of 2024-01..03
    write_ledger(["f1"], PERIODS[3:])  # only f1 in the ledger (2024-04..09)
    settings = AnomalySettings(history_periods=3)
    bounded = Review.open(settings, dry_run=True, state=state, first="2024-10")
    whole = Review.open(settings, dry_run=True, state=state, first=None)
    spike = {"sales_invoices_created": 900, "payments_created": 1}
    plan = ClientPlan(link=state.links["f2"], action="create", counts=spike)
    flags = bounded.assess(plan, month("2024-10"), targets()).flags
    assert flags and flags == whole.assess(plan, month("2024-10"), targets()).flags
    assert sorted(bounded.history.by_firm["f2"]) == ["2024-01", "2024-02", "2024-03", "2024-10"]
    assert sorted(bounded.history.by_firm["f1"]) == ["2024-07", "2024-08", "2024-09"]


def write_uneven_ledger() -> None:
    """f1 every period 2024-01..09 (2024-08 written twice, the second newer), f2 with gaps,
    f3 stopped in 2024-02 (unlinked long ago), f4 only 2024-09 and one write after."""
    writer = ledger.LedgerWriter()
    written = {
        "f1": [*PERIODS, "2024-08"],
        "f2": ["2024-01", "2024-03", "2024-06", "2024-09", "2024-10"],
        "f3": ["2024-01", "2024-02"],
        "f4": ["2024-09", "2024-11"],
    }
    for n, (firm, periods) in enumerate(written.items()):
        for k, period in enumerate(periods):
            writer.write(
                period=period, firm=firm, registration_code=f"1000000{n}", name=f"Firm {firm}",
                uku_client=100 + n, task=7000 + k, action="create", mapping=MAP,
                counts={"sales_invoices_created": 10 * n + k, "payments_created": k}, at=AT,
            )  # fmt: skip


def test_newest_before_reads_each_firms_newest_periods_before_the_first() -> None:
    """Per firm its own newest `depth` periods before `first` (however old), the newest
    write of a (firm, period) last: exactly what the whole ledger has for them."""
    write_uneven_ledger()
    whole = ledger.load().by_firm()
    for depth in (1, 3, 6):
        read = list(ledger.newest_before("2024-10", depth))
        kept: dict[tuple[str, str], ledger.Written] = {}
        for write in read:
            kept[(write.firm, write.period)] = write  # the newest of a pair comes last
        expected = {
            (firm, w.period): w
            for firm, writes in whole.items()
            for w in [w for w in writes if w.period < "2024-10"][-depth:]
        }
        assert kept == expected, depth
    assert [w.period for w in ledger.newest_before("2024-10", 1) if w.firm == "f1"] == ["2024-09"]
    assert sorted(w.period for w in ledger.newest_before("2024-10", 2) if w.firm == "f3") == [
        "2024-01",
        "2024-02",
    ]


def test_the_review_reads_no_ledger_row_a_check_cannot_look_at() -> None:
    """From the ledger, a run from 2024-10 reads per firm its newest `history_periods`
    periods before it and every write from it on: no query of the whole ledger, and no
    row of an older period, yet the same history for every check."""
    write_uneven_ledger()
    db = records_db.shared(create=True)
    sent: list[str] = []
    db.connection.set_trace_callback(sent.append)
    settings = AnomalySettings(history_periods=2)
    bounded = Review.open(settings, dry_run=True, first="2024-10")
    db.connection.set_trace_callback(None)
    reads = [q for q in sent if q.lstrip().startswith("SELECT") and "FROM ledger_writes" in q]
    assert reads and all("period <" in q or "period >=" in q for q in reads), reads
    whole = Review.open(settings, dry_run=True, first=None)
    for firm in ("f1", "f2", "f3", "f4"):
        for period in ("2024-10", "2024-11", "2024-12"):
            got = bounded.history.earlier(firm, period)[-2:]
            assert got == whole.history.earlier(firm, period)[-2:], (firm, period)
    assert sorted(bounded.history.by_firm["f1"]) == ["2024-08", "2024-09"]
    newer_write_of_august, september = bounded.history.earlier("f1", "2024-10")
    assert (newer_write_of_august["payments_created"], september["payments_created"]) == (9, 8)


def test_the_look_back_names_the_clients_short_of_history() -> None:
    """Before the journals: lines from the oldest period a full client keeps, and before it
    only the clients with fewer than `depth` periods."""
    history = History(depth=2, first="2024-10")
    for period in ("2024-06", "2024-07", "2024-08"):
        history.add("f1", period, {"x": 1})
    history.add("f2", "2024-09", {"x": 1})
    assert history.look_back(["f1", "f2", "f3"]) == ("2024-07", {"f2", "f3"})


def test_a_periods_action_counts_are_each_firms_newest_row_counted_in_sql() -> None:
    """The period's record counts created/updated clients without parsing every client's
    counts: the same numbers as counting what load() returns, also when a firm has
    several rows (a task lost and made again, an update after a create)."""
    run = month("2024-10")
    book = journal.PeriodJournal(run)
    counts = {"payments_created": 1}
    book.append(journal.Entry("a", 1, 11, "create", counts), AT)
    book.append(journal.Entry("b", 2, 12, "create", counts), AT)
    book.lose("b", journal.Loss(task=12, client=2, moved_to=None, at="2024-10-31T01:00:00"))
    book.append(journal.Entry("b", 2, 13, "create", counts), AT)
    book.append(journal.Entry("c", 3, 14, "exists", counts), AT)
    book.append(journal.Entry("c", 3, 14, "update", counts), AT)
    book.intend("d", 4, AT)
    other = journal.PeriodJournal(month("2024-09"))  # another window: not this period's
    other.append(journal.Entry("e", 5, 15, "create", counts), AT)
    expected = {"create": 2, "update": 1}
    assert book.actions() == expected
    assert dict(collections.Counter(e.action for e in book.load().values())) == expected


def test_a_journal_read_without_counts_names_the_same_tasks() -> None:
    """A re-count reads only which task each client has: the same entries, no counts
    parsed (at 5,000 clients the parsed counts were the re-count's memory peak)."""
    run = month("2024-10")
    book = journal.PeriodJournal(run)
    book.append(journal.Entry("a", 1, 11, "create", {"payments_created": 4}), AT)
    book.append(journal.Entry("b", 2, 12, "update", {"payments_created": 5}), AT)
    full, bare = book.load(), book.load(with_counts=False)
    assert {f: (e.client, e.task, e.action) for f, e in bare.items()} == {
        f: (e.client, e.task, e.action) for f, e in full.items()
    }
    assert all(e.counts == {} for e in bare.values())
    assert full["a"].counts == {"payments_created": 4}
