"""One timeline against real runs: before each night every view names the runs that the
real run-monthly (sandbox in-process, a client failing on some nights) then does."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from monthly_env import connect, link_firms, make_config, viewable_firms
from world_seeds import fresh_world, seed_document

from tests.examples_budget import examples
from tests.timeline_views import views_agree
from trigon_sync.records import periods as period_record
from trigon_sync.schedule.rules import ScheduleRule
from trigon_sync.store import paths, records_db
from trigon_sync.store.state import load_state

SEED: dict[str, Any] = seed_document(20, seed=3)
"""Read-only; every example builds a fresh world of it (``fresh_world(20, seed=3)``)."""
FIRMS = viewable_firms(SEED)[:2]
rules = st.sampled_from(
    [
        ScheduleRule("last_calendar_day"),
        ScheduleRule("last_work_day"),
        ScheduleRule("day_of_next_month", 5),
        ScheduleRule("day_of_next_month", 31),
    ]
)
nights = st.tuples(st.integers(1, 75), rules, st.booleans())


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(nights, min_size=1, max_size=6))
def test_views_name_what_the_real_run_then_does(
    steps: list[tuple[int, ScheduleRule, bool]],
) -> None:
    """Schedule changes between nights, missed nights and failed nights (a client lost View,
    so it owes its periods, retried first, while the window moves on for the others): the
    views always match the run."""
    records_db.forget_shared()  # the previous example's records go with its state
    records = paths.records_file()
    sidecars = [records.with_name(records.name + end) for end in ("-wal", "-shm")]
    for leftover in (paths.state_file(), paths.home_dir() / "journal", records, *sidecars):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink(missing_ok=True)
    world = fresh_world(20, seed=3)
    link_firms(world, FIRMS)
    victim = FIRMS[0]
    scratch = Path(tempfile.mkdtemp())
    env = connect(world, make_config(keys=["sales_invoices_created"]), scratch)
    name = next(f.name for f in world.seed.trigon.firms if f.id == victim)
    try:
        today = dt.date(2024, 9, 30)
        for gap, rule, fail in steps:
            env.with_config(summary=replace(env.config.summary, schedule=rule))
            today += dt.timedelta(days=gap)
            expected = views_agree(env.config, load_state(), today, query=name)
            if fail:
                world.revoke_view(victim)
            else:
                world.restore_view(victim)
            result = env.run(today)
            done = [p.run for p in result.periods if not p.late]
            assert done == expected and result.deferred == []
            assert all(p.complete for p in result.periods if not p.late)
            assert period_record.open_run(load_state()) is None
            owed = {p.period for p in result.owed}
            if fail:  # it owes every completed period it was linked for
                assert {r.period for r in expected} <= owed
            else:  # every owed period was retried on its own window and made
                assert owed == set()
                assert all(p.complete for p in result.periods if p.late)
            views_agree(env.config, load_state(), today, query=name)
    finally:
        env.close()
        shutil.rmtree(scratch, ignore_errors=True)
