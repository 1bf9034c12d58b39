"""The premise of set_up_once.py: each test's copy of the set-up world, home and keyring is
its own, and a copy runs exactly as a set-up done afresh through the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli import test_run_monthly as base
from tests.cli.sandbox_home import Invoke
from tests.cli.set_up_once import read_seed, set_up_once
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running, SandboxWorld, run_sandbox
from trigon_sync.store import paths
from trigon_sync.store.state import load_state

seed = base.seed
ready = base.ready
summary_tasks = base.summary_tasks


def never(_: Running) -> None:
    raise AssertionError("the set-up ran again instead of being copied")


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv(paths.ENV_HOME, str(home))


def test_a_change_to_one_copy_is_seen_in_no_other(
    cli: Invoke,
    ready: Running,
    seed: dict[str, Any],
    memory_keyring: Any,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """World, home and keyring of the first copy (or of the set-up itself) changed: a
    second copy made meanwhile starts as the set-up left things, and so does a third
    after the second was changed too; the first keeps its changes."""
    links = load_state().links
    denied = set(ready.world.seed.trigon.users[0].deny_view)
    victim = next(link for link in links.values() if link.trigon_id not in denied)

    def change(running: Running) -> None:
        running.world.revoke_view(victim.trigon_id)
        result = cli("run-monthly", "--today", "31.10.2024")
        assert result.exit_code == ExitCode.PARTIAL, result.output  # the victim fails
        with paths.config_file().open("a", encoding="utf-8") as config:
            config.write("# changed\n")
        for key in list(memory_keyring.secrets):
            if key[1].endswith("@" + str(paths.home_dir())):
                memory_keyring.secrets[key] = "changed"

    def check_fresh(running: Running) -> None:
        assert running.world.uku_state()["tasks"] == base_tasks
        assert summary_tasks(running) == []
        assert load_state().links == links and load_state().last_period_end is None
        config = paths.config_file().read_text(encoding="utf-8")
        assert "# changed" not in config
        assert running.trigon_url in config and running.uku_url in config
        result = cli("run-monthly", "--today", "31.10.2024")  # the keyring copy logs in
        assert result.exit_code == ExitCode.PARTIAL, result.output  # the seed's no-View firms
        assert victim.uku_client_id in {t["client_id"] for t in summary_tasks(running)}

    first_home = paths.home_dir()
    base_tasks = ready.world.uku_state()["tasks"]
    change(ready)
    first_tasks = summary_tasks(ready)
    first_config = paths.config_file().read_text(encoding="utf-8")
    assert first_tasks and victim.uku_client_id not in {t["client_id"] for t in first_tasks}

    for name in ("second", "third"):
        use_home(monkeypatch, tmp_path / name)
        with set_up_once(
            base.READY,
            seed,
            never,
            home=tmp_path / name,
            secrets=memory_keyring.secrets,
            keep_in=lambda: tmp_path_factory.mktemp("unused"),
        ) as copy:
            assert copy.world is not ready.world
            check_fresh(copy)
            change(copy)

    use_home(monkeypatch, first_home)
    assert summary_tasks(ready) == first_tasks
    assert paths.config_file().read_text(encoding="utf-8") == first_config


VARY = ("id", "created_at", "updated_at")


def uku_now(running: Running) -> dict[str, Any]:
    """Uku's clients and tasks, without what differs between two set-ups by design: ids
    and times the order of a run's parallel writes decides, and the home's own id in each
    task's marker."""
    state = running.world.uku_state()
    tasks = sorted(
        re.sub(
            r"trigon-sync-task:[0-9a-f]+:",
            "trigon-sync-task:HOME:",
            json.dumps({k: v for k, v in t.items() if k not in VARY}, sort_keys=True),
        )
        for t in state["tasks"]
    )
    return {**state, "tasks": tasks}


def test_a_copy_runs_as_a_fresh_set_up(
    cli: Invoke,
    ready: Running,
    seed: dict[str, Any],
    write_config: Callable[[str], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The set-up done afresh through the CLI in another home and world, then the same
    dry run and real run in both: the same plan, the same state, the same Uku."""

    def night() -> tuple[Any, ...]:
        real = cli("run-monthly", "--today", "31.10.2024")
        dry = cli("run-monthly", "--today", "30.11.2024", "--dry-run", "--json")
        state = load_state()
        done = {p: (c.run, c.totals) for p, c in state.journal.completed.items()}
        return dry.exit_code, json.loads(dry.stdout), real.exit_code, state.links, done

    copied = night()
    copied_uku = uku_now(ready)
    copied_writes = len(ready.world.writes())

    use_home(monkeypatch, tmp_path / "fresh")
    with run_sandbox(SandboxWorld(read_seed(seed))) as fresh:
        base.set_up_ready(fresh, write_config, cli)
        assert night() == copied
        assert uku_now(fresh) == copied_uku
        assert len(fresh.world.writes()) == copied_writes
