"""`backup` taken while a monthly run is writing restores to a home whose next run creates
no second task: the run's creates announced after the backup are missing from the copy,
and the next run finds those tasks in Uku by their identity token instead."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import connect, link_firms, make_config

from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.store import paths, records_db
from trigon_sync.store.backup import Backup, backup
from trigon_sync.store.state import load_state

OCTOBER = dt.date(2024, 10, 31)


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
