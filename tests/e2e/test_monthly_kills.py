"""SIGKILL at 20 drawn points of a monthly run: the next ``run-monthly`` completes it, with
exactly one task per (client, period) in Uku and each client once per period in the records.

The run is a cron night that catches up two periods (2024-10 and 2024-11) for a few linked
clients. ``run-monthly`` runs once unkilled per Uku profile, counting its points
(tests/kill_points.py: each statement of the records database that writes, each state
save, each write request to Uku before it is sent and once its answer is read); 10 points
per profile are drawn from them with a fixed seed, among them one between an intent's
COMMIT and its create being sent and one between a create's answer and its recording.
Each point gets a fresh sandbox and home (the same seed, the same links), a run that kills
itself there, and a plain ``run-monthly`` that must finish both periods. The
production-like Uku ignores Idempotency-Keys and lists new tasks late, so a run that finds
an intent without its outcome must wait and look; the settle is short (the lag is 0.1 s)
to keep the test fast. The run has its default workers (one thread per client here), so
the steps of the clients interleave differently from run to run; a point is named by its
kind and number (the 2nd create sent), the same step in every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api.monthly_env import FIELD_NAME, expected_counts, link_firms, task_counts
from tests.e2e.flow import HTTP_TIMEOUT, MONTHS, NO_LIMITS, RETRY_DELAY, make_seed
from tests.kill_points import Done, ForkedCli, kill_seed, pick
from trigon_sync.http.session import ENV_RETRY_DELAY
from trigon_sync.sandbox import SANDBOX_COMPANY, Running, SandboxWorld, run_sandbox
from trigon_sync.sandbox.behaviour import CONTRACT, PRODUCTION_LIKE, UkuBehaviour
from trigon_sync.store import paths
from trigon_sync.store.secrets import (
    TRIGON_API_KEY,
    TRIGON_ID_TOKEN,
    UKU_API_KEY,
    FileStore,
    Secret,
)
from trigon_sync.store.state import load_state

pytestmark = pytest.mark.e2e

SEED = make_seed(3)
MAPPED = ("payments_created", "sales_invoices_updated", "active_reporting_persons")
"""A few counts of different kinds: each mapped count is a Trigon listing per client and
window, and the points are in the writes, not in the counting."""
LAG = 0.1
PROFILES: dict[str, UkuBehaviour] = {
    "contract": CONTRACT,
    "production-like": PRODUCTION_LIKE.updated({"list_lag_seconds": LAG}),
}
SETTLE = 0.25
"""[uku] settle_seconds: the list lag and a margin. A kill lands before a request is sent
or after its answer was read, so no write of a killed run is still on its way to Uku."""
PER_PROFILE = 10
RUN = ("run-monthly", "--today", MONTHS[1][0].strftime("%d.%m.%Y"))
KINDS = ("send POST /api/v3/tasks", "answer POST /api/v3/tasks")
"""Points each profile's draw includes: the intent is committed and the create not sent;
the task is created in Uku and the run has not recorded it."""


def _config(trigon_url: str, uku_url: str) -> str:
    """config.toml as connect (api-key mode), connect-uku and map-fields leave it."""
    mapped = "".join(f'{key} = "{FIELD_NAME[key]}"\n' for key in MAPPED)
    return (
        f'[trigon]\nauth = "api-key"\nbase_url = "{trigon_url}"\ntoken_store = "file"\n\n'
        f'[uku]\nbase_url = "{uku_url}"\ncompany = "{SANDBOX_COMPANY}"\n'
        f"settle_seconds = {SETTLE}\n\n"
        '[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
        'schedule = "last_calendar_day"\nfirst_import_date = 2024-10-01\n\n'
        f"[fields]\n{mapped}"
    )


@dataclass
class Night:
    """A fresh sandbox and a home linked to it, ready for the night's run-monthly."""

    world: SandboxWorld
    running: Running
    home: Path

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, paths.ENV_HOME: str(self.home)}
        env.update({"TRIGON_SYNC_HTTP_TIMEOUT": HTTP_TIMEOUT, ENV_RETRY_DELAY: RETRY_DELAY})
        env.pop("PYTHON_KEYRING_BACKEND", None)
        return env

    def assert_tasks(self) -> None:
        """Exactly one task per linked client and period, holding the seed's counts of its
        window (tests/api/monthly_env.expected_counts), and both periods complete."""
        state = load_state()
        firm_of = {link.uku_client_id: firm for firm, link in state.links.items()}
        window = {period: (start, end) for _today, start, end, period in MONTHS[:2]}
        tasks = self.world.uku_state()["tasks"]
        per = Counter((t["client_id"], t["title"].removeprefix("Monthly summary ")) for t in tasks)
        assert per == Counter((c, p) for c in firm_of for p in window)
        for task in tasks:
            start, end = window[task["title"].removeprefix("Monthly summary ")]
            counts = expected_counts(SEED, firm_of[task["client_id"]], start, end, MAPPED)
            assert task_counts(task, MAPPED) == counts, task["title"]
        assert state.last_period_end == MONTHS[1][2]

    def records(self) -> dict[str, Any]:
        """What the records database holds per (client, period), for comparing runs."""
        with contextlib.closing(sqlite3.connect(self.home / paths.records_file().name)) as con:
            writes = con.execute("SELECT firm, period, uku_client, task, counts FROM ledger_writes")
            done = con.execute(
                "SELECT firm, period, client, task, counts, archived FROM task_events"
                " WHERE kind = 'done'"
            )
            return {"ledger": writes.fetchall(), "journal": done.fetchall()}


@contextlib.contextmanager
def night(profile: str, home: Path) -> Iterator[Night]:
    """The seed's world served with ``profile``'s Uku; ``home`` connected to it (api-key
    mode: no refresh token to rotate), its firms linked, fields mapped."""
    world = SandboxWorld(SEED)
    with (
        run_sandbox(world, faults=NO_LIMITS, uku_behaviour=PROFILES[profile]) as running,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv(paths.ENV_HOME, str(home))
        paths.ensure_home()
        paths.config_file().write_text(
            _config(running.trigon_url, running.uku_url), encoding="utf-8"
        )
        creds = world.credentials()
        key = next(k for k in creds["trigon_api_keys"] if k["environment"] == "production")
        store = FileStore(paths.token_file())
        store.set(TRIGON_ID_TOKEN, Secret(key["id_token"]))
        store.set(TRIGON_API_KEY, Secret(key["api_key"]))
        store.set(UKU_API_KEY, Secret(creds["uku_api_key"]))
        link_firms(world)
        yield Night(world, running, home)


@pytest.fixture(scope="module")
def spaces(
    forked_cli: ForkedCli, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Done, dict[str, Any]]]:
    """Per profile, the unkilled run (with every point it passed) and its records."""
    found = {}
    for profile in PROFILES:
        with night(profile, tmp_path_factory.mktemp(profile) / "home") as tonight:
            done = forked_cli.run(*RUN, env=tonight.env)
            assert done.code == 0, done.stderr
            tonight.assert_tasks()
            found[profile] = (done, tonight.records())
    return found


POINTS = [(profile, n) for profile in PROFILES for n in range(PER_PROFILE)]


@pytest.mark.parametrize(
    ("profile", "n"), POINTS, ids=[f"{profile}-{n + 1:02d}" for profile, n in POINTS]
)
def test_a_killed_monthly_run_is_completed_by_the_next_run(
    profile: str,
    n: int,
    forked_cli: ForkedCli,
    spaces: dict[str, tuple[Done, dict[str, Any]]],
    tmp_path: Path,
) -> None:
    """Killed at a drawn point, the next run-monthly finishes both periods: one task per
    (client, period) with the seed's counts, each client once per period in the ledger and
    the journal, as after the unkilled run."""
    reference, records = spaces[profile]
    at = pick(reference.points, PER_PROFILE, kill_seed(), must=KINDS)[n]
    where = f"killed at {at[0]} #{at[1]} ({len(reference.points)} steps)"
    with night(profile, tmp_path / "home") as tonight:
        killed = forked_cli.run(*RUN, env=tonight.env, kill_at=at)
        assert killed.code == -signal.SIGKILL, (where, killed.stderr)
        again = forked_cli.run(*RUN, env=tonight.env)
        assert again.code == 0, (where, again.stdout, again.stderr)
        tonight.assert_tasks()
        found = tonight.records()
        for kind in ("ledger", "journal"):
            pairs = Counter((row[0], row[1]) for row in found[kind])
            assert set(pairs.values()) == {1}, (where, kind, pairs)
            # the same counts for the same clients; the task ids are this sandbox's own
            assert _without_tasks(found[kind]) == _without_tasks(records[kind]), (where, kind)
        tasks = {
            (t["client_id"], t["title"][-7:]): t["id"] for t in tonight.world.uku_state()["tasks"]
        }
        assert {(c, p): task for _f, p, c, task, *_ in found["journal"]} == tasks, where


def _without_tasks(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(
        (*row[:3], json.dumps(json.loads(row[4]), sort_keys=True), *row[5:]) for row in rows
    )
