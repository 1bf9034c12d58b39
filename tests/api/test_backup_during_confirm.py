"""`backup` taken while `confirm` is creating Uku clients restores to a home whose next
`confirm` creates no second client: the creates announced after the backup are missing
from the copy, and Uku (like the real one) lists a new client only after a lag and
ignores the Idempotency-Key. The copy's snapshot moment (store/restore_mark.py) makes
the restored confirm wait for Uku's list once, adopt what the lost home made and create
only what is absent."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from monthly_env import BackupThenDie, Env, Killed, connect, make_config

from trigon_sync import clock as trigon_clock
from trigon_sync.clients.confirm_results import ConfirmResult, Outcome
from trigon_sync.clients.importing import apply_plan, build_plan, stage_plan, staged_plan
from trigon_sync.clients.plan import select_rows
from trigon_sync.http import waits
from trigon_sync.records.import_plan import Action
from trigon_sync.registration_codes import normalise_code
from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.sandbox.behaviour import PRODUCTION_LIKE
from trigon_sync.store import paths, records_db, restore_mark
from trigon_sync.store.state import load_state, locked_state
from trigon_sync.uku.settling import Settler

OCTOBER = dt.date(2024, 10, 31)
SETTLE = make_config().uku.settle_seconds
CLIENTS = "/api/v3/clients"


class Clock:
    """The confirm's and the run's clock: starts now, moves only when they wait (and
    moves the sandbox's clock with it, so Uku's list lag passes)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.at = dt.datetime.now(tz=dt.UTC)
        self.sleeps: list[float] = []

    def now(self) -> dt.datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.at += dt.timedelta(seconds=seconds)
        self.env.sleep(seconds)

    def settler(self) -> Settler:
        return Settler(SETTLE, self.now, self.sleep)


def confirm(env: Env, clock: Clock) -> ConfirmResult:
    """`confirm --yes` on the staged plan, without the CLI."""
    with locked_state() as session:
        selection = select_rows(staged_plan(session.state))
        return apply_plan(
            selection, uku=env.uku, session=session, now=clock.now(), settler=clock.settler()
        )


def client_intents(db_file: Path) -> int:
    with sqlite3.connect(db_file) as con:
        (n,) = con.execute("SELECT count(*) FROM client_intents").fetchone()
    return int(n)


def codes_in_uku(world: SandboxWorld) -> Counter[str | None]:
    return Counter(normalise_code(c["registration_code"]) for c in world.uku_state()["clients"])


def restore_marks() -> dict[str, str]:
    with sqlite3.connect(paths.records_file()) as con:
        rows = con.execute("SELECT key, value FROM meta WHERE key LIKE 'restore%'").fetchall()
    return dict(rows)


@pytest.fixture
def seed() -> dict[str, Any]:
    return generate_seed(10, seed=24, no_view=0)


def test_a_confirm_restored_from_a_backup_taken_mid_confirm_creates_each_client_once(
    seed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup is taken at the third client create, the confirm goes on to the sixth
    and dies; the copy is restored and `confirm` run again at once, while Uku does not
    list the clients just made. The copy has three intents and no links; the other three
    creates it knows nothing of. The restored confirm waits ``settle_seconds`` once, reads
    Uku's clients again, links the six the lost home made and creates only the rest: one
    Uku client per firm. The monthly run right after it does not wait again (the mark
    is one, and cleared), and writes one task per client."""
    world = SandboxWorld(seed)
    before = codes_in_uku(world)  # the seed's own Uku clients, none a Trigon firm's
    wrappers: list[BackupThenDie] = []

    def wrap(inner: httpx.BaseTransport) -> httpx.BaseTransport:
        wrappers.append(BackupThenDie(inner, CLIENTS, 3, 6, tmp_path / "backup"))
        return wrappers[-1]

    env = connect(
        world, make_config(), tmp_path / "uku", transport_wrapper=wrap, behaviour=PRODUCTION_LIKE
    )
    clock = Clock(env)
    monkeypatch.setattr(trigon_clock, "now", clock.now)  # the backup's snapshot moment too
    try:
        with locked_state() as session:
            plan = build_plan(env.trigon, env.uku, session.state, None)
            stage_plan(session.state, plan, clock.now())
            session.save()
        creates = {r.registration_code for r in select_rows(plan).apply}
        assert all(r.action is Action.CREATE for r in select_rows(plan).apply)
        assert len(creates) >= 8
        assert not creates & set(before)
        with pytest.raises(Killed):
            confirm(env, clock)
        assert (codes_in_uku(world) - before).total() == 6
        taken = next(w.taken for w in wrappers if w.taken is not None)

        restored = tmp_path / "restored"
        shutil.copytree(taken.target, restored)
        records_db.forget_shared()
        monkeypatch.setenv(paths.ENV_HOME, str(restored))
        assert client_intents(paths.records_file()) == 3  # the later three are lost
        assert load_state().links == {}
        for wrapper in wrappers:
            wrapper.die_at = 0
        world.clear_logs()
        clock.sleeps.clear()

        snapshot = dt.datetime.fromisoformat(restore_marks()[restore_mark.SNAPSHOT_KEY])
        mark = restore_mark.Mark(snapshot, snapshot)  # what it says: the snapshot's moment
        told: list[waits.Wait] = []
        with waits.listening(told.append):
            again = confirm(env, clock)  # at once: Uku lists none of the six yet
        # said once, also under cron (a note, not a terminal's wait line), and why it waits
        assert again.notes == (mark.note(SETTLE),)
        assert again.notes[0].startswith(f"restored from a backup taken {mark.taken}: waiting")
        assert again.to_json()["notes"] == list(again.notes)
        assert [w.why for w in told] == [mark.wait_reason()]
        assert "answer was lost" not in told[0].describe()
        codes = codes_in_uku(world) - before
        assert set(codes) == creates
        assert set(codes.values()) == {1}, [code for code, n in codes.items() if n > 1]
        posts = [w for w in world.writes() if w["method"] == "POST" and w["path"] == CLIENTS]
        assert len(posts) == len(creates) - 6
        assert again.counts()[Outcome.FAILED] == 0
        assert again.counts()[Outcome.FOUND] == 6
        assert again.counts()[Outcome.CREATED] == len(creates) - 6
        assert len(clock.sleeps) == 1 and 0 < clock.sleeps[0] <= SETTLE
        links = load_state().links
        by_id = {c["id"]: c for c in world.uku_state()["clients"]}
        assert len(links) == len(creates)
        for link in links.values():
            assert normalise_code(by_id[link.uku_client_id]["registration_code"]) == (
                link.registration_code
            )

        # the monthly run right after: the moment is past settle_seconds, no second wait
        clock.sleeps.clear()
        run = env.run(OCTOBER, sleep=clock.sleep, now=clock.now)
        assert not run.failed
        assert clock.sleeps == []
        assert restore_marks() == {}
        per_client = Counter(t["client_id"] for t in world.uku_state()["tasks"])
        assert set(per_client) == {link.uku_client_id for link in links.values()}
        assert set(per_client.values()) == {1}
    finally:
        env.close()


def test_an_ordinary_confirm_reads_uku_once_and_never_waits(
    seed: dict[str, Any], tmp_path: Path
) -> None:
    """No backup, no mark: the confirm's one full listing decides, as before."""
    world = SandboxWorld(seed)
    env = connect(world, make_config(), tmp_path / "uku", behaviour=PRODUCTION_LIKE)
    clock = Clock(env)
    listings: list[tuple[Any, ...]] = []
    real_list = env.uku.list_clients
    env.uku.list_clients = lambda *a: (listings.append(a), real_list(*a))[1]  # type: ignore[method-assign]
    try:
        with locked_state() as session:
            stage_plan(
                session.state, build_plan(env.trigon, env.uku, session.state, None), clock.now()
            )
            session.save()
        listings.clear()
        result = confirm(env, clock)
    finally:
        env.close()
    assert result.counts()[Outcome.FAILED] == 0
    assert listings == [()]
    assert clock.sleeps == []
    assert restore_marks() == {}
