"""`backup` taken while a monthly run is writing restores to a home whose next run creates
no second task: the run's creates announced after the backup are missing from the copy,
and the next run finds those tasks in Uku by their identity token instead."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import (
    BackupThenDie,
    Killed,
    connect,
    expected_counts,
    link_firms,
    make_config,
    task_counts,
)

from trigon_sync.http import waits
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE
from trigon_sync.store import paths, records_db, restore_mark
from trigon_sync.store.backup import Backup, backup
from trigon_sync.store.state import load_state

OCTOBER = dt.date(2024, 10, 31)
OCTOBER_WINDOW = (dt.date(2024, 10, 1), dt.date(2024, 10, 30))
NOVEMBER = dt.date(2024, 11, 30)
SNAPSHOT = restore_mark.SNAPSHOT_KEY


class BackupAfterCreates(httpx.BaseTransport):
    """Take a backup right after the ``n``-th task create reached Uku, once, as a cron
    backup job would beside the running monthly run."""

    def __init__(self, inner: httpx.BaseTransport, n: int, target: Path) -> None:
        self.inner = inner
        self.n = n
        self.target = target
        self.taken: Backup | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/api/v3/tasks":
            self.n -= 1
            if self.n == 0:
                self.taken = backup(self.target)
        return response


@pytest.fixture
def seed() -> dict[str, Any]:
    return generate_seed(8, seed=24, no_view=0)


def intents(db_file: Path) -> int:
    with sqlite3.connect(db_file) as con:
        (n,) = con.execute("SELECT count(*) FROM task_events WHERE kind = 'intent'").fetchone()
    return int(n)


def test_a_backup_during_a_run_restores_to_a_home_whose_next_run_creates_nothing(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy holds the run as it was at the third create; restored, the next run finds
    the other five tasks by their identity, creates none, and completes the period."""
    world = SandboxWorld(seed)
    links = link_firms(world)
    wrappers: list[BackupAfterCreates] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        wrappers.append(BackupAfterCreates(inner, 3, tmp_path / "backup"))
        return wrappers[-1]

    env = connect(world, make_config(), tmp_path / "first", transport_wrapper=wrap)
    try:
        result = env.run(OCTOBER, workers=1)  # one client at a time: the copy is mid-run
    finally:
        env.close()
    assert not result.failed
    assert len(env.tasks()) == len(links)
    taken = next(w.taken for w in wrappers if w.taken is not None)
    assert not taken.state_under_lock  # the run held the state lock all along
    assert {"installation-id", "state.toml", "records.sqlite3"} <= set(taken.copied)
    assert intents(paths.records_file()) == len(links)

    restored = tmp_path / "restored"
    shutil.copytree(taken.target, restored)
    records_db.forget_shared()
    monkeypatch.setenv(paths.ENV_HOME, str(restored))
    assert intents(paths.records_file()) == 3  # the five later announcements are lost
    assert "2024-10" not in load_state().journal.completed

    world.clear_logs()
    again = connect(world, make_config(), tmp_path / "second")
    try:
        rerun = again.run(OCTOBER)
    finally:
        again.close()
    assert not rerun.failed
    creates = [w for w in again.task_writes() if w["method"] == "POST"]
    assert creates == []
    assert set(again.tasks_per_client_period().values()) == {1}
    assert len(again.tasks()) == len(links)
    assert "2024-10" in load_state().journal.completed


def snapshot_marks(db_file: Path) -> dict[str, str]:
    with sqlite3.connect(db_file) as con:
        rows = con.execute("SELECT key, value FROM meta WHERE key LIKE 'restore%'").fetchall()
    return dict(rows)


def test_a_restored_home_whose_uku_lists_lag_creates_no_second_task_when_run_at_once(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an Uku that lists new tasks only after a lag and ignores Idempotency-Keys: the
    backup is taken at the third create, the run goes on to the sixth and dies, the copy
    is restored and the next run started at once, while Uku does not list the fourth to
    sixth tasks yet. The copy knows nothing of those creates; it knows the moment of its
    snapshot, so the run waits ``settle_seconds`` once (on the sandbox's clock), lists
    again, adopts those three and creates only the two never made. A later night, long
    after, clears the mark and costs no wait."""
    world = SandboxWorld(seed)
    links = link_firms(world)
    wrappers: list[BackupThenDie] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        wrappers.append(BackupThenDie(inner, "/api/v3/tasks", 3, 6, tmp_path / "backup"))
        return wrappers[-1]

    env = connect(
        world, make_config(), tmp_path / "uku", transport_wrapper=wrap, behaviour=PRODUCTION_LIKE
    )
    live = paths.records_file()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        env.sleep(seconds)

    try:
        with pytest.raises(Killed):
            env.run(OCTOBER, workers=1, sleep=sleep)
        assert len(env.tasks()) == 6
        taken = next(w.taken for w in wrappers if w.taken is not None)
        assert snapshot_marks(live) == {}  # the mark is in the copy only
        assert set(snapshot_marks(taken.target / paths.RECORDS_NAME)) == {"restore_snapshot_at"}

        restored = tmp_path / "restored"
        shutil.copytree(taken.target, restored)
        records_db.forget_shared()
        monkeypatch.setenv(paths.ENV_HOME, str(restored))
        assert intents(paths.records_file()) == 3  # the fourth to sixth announcements are lost
        for wrapper in wrappers:
            wrapper.die_at = 0
        world.clear_logs()
        sleeps.clear()
        settle = make_config().uku.settle_seconds
        # the dry run first, as the restore steps ask: a create only unless Uku lists it
        snapshot = dt.datetime.fromisoformat(snapshot_marks(paths.records_file())[SNAPSHOT])
        mark = restore_mark.Mark(snapshot, snapshot)  # what it says: the snapshot's moment
        plan = env.run(OCTOBER, sleep=sleep, dry_run=True)
        assert sleeps == [] and world.writes() == []
        planned = [o.plan for p in plan.periods for o in p.outcomes]
        creates = Counter(p.reason for p in planned if p.action == "create")
        unless = "unless Uku lists it after the wait"
        restore = f"{unless} (the home was restored from a backup taken {mark.taken})"
        lost = f"{unless} (an earlier run's create lost its answer)"  # its intent in the copy
        assert creates[restore] == len(links) - 3  # no intent in the copy: the restore's
        assert set(creates) <= {restore, lost}
        assert plan.notes == [mark.dry_run_note(settle)]
        doc = plan.to_json()
        reasons = [c["reason"] for p in doc["periods"] for c in p["clients"]]
        assert Counter(r for r in reasons if r and r.startswith(unless)) == creates
        assert doc["notes"] == plan.notes

        told: list[waits.Wait] = []
        with waits.listening(told.append):
            rerun = env.run(OCTOBER, sleep=sleep)  # at once: Uku lists none of the last three yet
        assert not rerun.failed
        assert rerun.notes == [mark.note(settle)]
        assert rerun.notes[0].startswith(
            f"restored from a backup taken {mark.taken}: waiting up to 30 s"
        )
        assert [w.why for w in told] == [mark.wait_reason()]
        assert "restored from a backup" in told[0].describe()
        creates = [w for w in env.task_writes() if w["method"] == "POST"]
        assert len(creates) == 2  # the two the dead run never made
        assert set(env.tasks_per_client_period().values()) == {1}
        assert len(env.tasks()) == len(links)
        firm_of = {client: firm for firm, client in links.items()}
        for task in env.tasks():
            window = expected_counts(seed, firm_of[task["client_id"]], *OCTOBER_WINDOW)
            assert task_counts(task) == window
        assert "2024-10" in load_state().journal.completed
        # the history adds up to Uku's tasks: the adopted three count as an earlier run's
        record = [r.details for r in load_state().history if r.is_monthly][-1]
        written = sum(record.get(k, 0) for k in ("tasks_created", "tasks_updated", "done_earlier"))
        assert written == len(env.tasks()), record
        assert len(sleeps) == 1 and 0 < sleeps[0] <= make_config().uku.settle_seconds
        assert "restore_snapshot_at" in snapshot_marks(paths.records_file())

        # a night long after: the mark has done its job, is cleared, and costs no wait
        sleeps.clear()
        later = dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=1)
        night = env.run(NOVEMBER, sleep=sleep, now=lambda: later)
        assert not night.failed
        assert sleeps == []
        assert snapshot_marks(paths.records_file()) == {}
        assert set(env.tasks_per_client_period().values()) == {1}
    finally:
        env.close()
