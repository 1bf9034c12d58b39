"""Issue 12 through `run-monthly`: a wrong clock, a shared home, an interrupted run."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli import test_run_monthly as base
from tests.cli.sandbox_home import Invoke
from trigon_sync import clock
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running
from trigon_sync.store import home_safety, journal, paths, records_db
from trigon_sync.store.state import load_state

YEAR = dt.timedelta(days=365)
seed = base.seed  # the same 20-firm world and fully set-up home as test_run_monthly
ready = base.ready
summary_tasks = base.summary_tasks


def shift_local_clock(monkeypatch: pytest.MonkeyPatch, offset: dt.timedelta) -> None:
    """The machine's clock runs ``offset`` off; the sandbox's Date stays on real time."""
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + offset)


def snapshot() -> bytes:
    return paths.state_file().read_bytes()


@pytest.mark.parametrize("offset", [YEAR, -YEAR], ids=["ahead", "behind"])
def test_a_wrong_local_clock_writes_nothing_then_the_fixed_clock_counts_the_due_period(
    cli: Invoke, ready: Running, monkeypatch: pytest.MonkeyPatch, offset: dt.timedelta
) -> None:
    """A year off: exit CLOCK, no task, state untouched; fixed: exactly 2024-10 is counted."""
    before = snapshot()
    with monkeypatch.context() as patch:
        shift_local_clock(patch, offset)
        result = cli("run-monthly", "--today", "31.10.2024")
        bare = cli("run-monthly")  # the nightly cron call, no --today
    for answer in (result, bare):
        assert answer.exit_code == ExitCode.CLOCK, answer.output
        assert "365 days" in answer.output and "fix the system clock" in answer.output
    assert summary_tasks(ready) == []
    assert snapshot() == before
    assert not journal.has_rows("2024-10")  # no period was opened
    fixed = cli("run-monthly", "--today", "31.10.2024")
    assert fixed.exit_code in (0, ExitCode.PARTIAL), fixed.output
    assert load_state().history[-1].details["periods"] == ["2024-10"]
    assert {t["title"] for t in summary_tasks(ready)} == {"Monthly summary 2024-10"}


def test_a_service_clock_a_year_ahead_stops_the_run_naming_it(cli: Invoke, ready: Running) -> None:
    """When the services' Date is a year later, the message says the local clock is behind."""
    ready.set_date_clock(lambda: dt.datetime.now(dt.UTC) + YEAR)
    result = cli("run-monthly", "--today", "31.10.2024")
    assert result.exit_code == ExitCode.CLOCK, result.output
    assert "local clock is 365 days behind Uku's" in result.output
    assert summary_tasks(ready) == []


def test_a_few_seconds_of_skew_is_fine(cli: Invoke, ready: Running) -> None:
    """Within the bound (here 20 s) the run goes ahead."""
    ready.set_date_clock(lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20))
    result = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert result.exit_code in (0, ExitCode.PARTIAL), result.output
    assert summary_tasks(ready)


@pytest.mark.parametrize(
    "where",
    [
        lambda: paths.state_file(),
        lambda: paths.logs_dir() / "trigon-sync.log",
        lambda: paths.records_file(),
        lambda: paths.lock_file(),
    ],
    ids=["state", "log", "records", "lock"],
)
def test_a_symlinked_file_in_the_home_is_refused_before_any_write(
    cli: Invoke, ready: Running, tmp_path, where: Callable[[], Path]
) -> None:
    """Exit STATE naming the link; the link's target and Uku stay untouched."""
    link = where()
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours\n")
    if os.path.lexists(link):
        if link == paths.state_file():
            target.write_bytes(paths.state_file().read_bytes())
        link.unlink()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    before = target.read_bytes()
    records_db.forget_shared()  # as cron starts it: no connection left open by the set-up
    result = cli("run-monthly", "--today", "31.10.2024")
    assert result.exit_code == ExitCode.STATE, result.output
    assert str(link) in " ".join(result.output.split()) and "symbolic link" in result.output
    assert target.read_bytes() == before
    assert summary_tasks(ready) == []


def test_a_symlinked_token_file_is_refused(tmp_path) -> None:
    """The file token store never writes through a link."""
    from trigon_sync.errors import StateError
    from trigon_sync.store.secrets import FileStore, Secret

    paths.ensure_home()
    target = tmp_path / "stolen.toml"
    paths.token_file().symlink_to(target)
    with pytest.raises(StateError, match="symbolic link"):
        FileStore().set("uku-api-key", Secret("k" * 20))
    assert not target.exists()


def test_another_user_than_the_homes_owner_is_refused_before_writing(
    cli: Invoke, ready: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root (played by another uid) changes nothing in the cron user's home."""
    before = snapshot()
    monkeypatch.setattr(home_safety, "current_uid", lambda: os.getuid() + 1)
    for args in (
        ("run-monthly", "--today", "31.10.2024"),
        ("state", "set-last-period-end", "2024-09-30", "--period", "2024-09", "--yes"),
    ):
        result = cli(*args)
        assert result.exit_code == ExitCode.STATE, result.output
        assert "belongs to user id" in result.output
    assert snapshot() == before
    assert summary_tasks(ready) == []
    assert not (paths.logs_dir() / "trigon-sync.log").exists()


def test_a_group_writable_home_is_warned_about(cli: Invoke, ready: Running) -> None:
    """run-monthly says so on stderr (cron mail) with doctor's fix, and still runs."""
    paths.home_dir().chmod(0o770)
    result = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert result.exit_code in (0, ExitCode.PARTIAL), result.output
    assert "writable by other users" in result.stderr
    assert f"chmod 700 {paths.home_dir()}" in " ".join(result.stderr.split())


def test_sigterm_mid_run_stops_queued_clients_and_history_matches_uku(
    cli: Invoke, ready: Running
) -> None:
    """SIGTERM after two tasks: exit 130, history's counts equal the tasks in Uku, logged."""
    ready.set_faults("uku", latency_ms=40)
    sent = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(summary_tasks(ready)) >= 2:
                handler = signal.getsignal(signal.SIGTERM)
                if callable(handler) and "on_signal" in getattr(handler, "__qualname__", ""):
                    os.kill(os.getpid(), signal.SIGTERM)
                    sent.set()
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    result = cli("run-monthly", "--today", "31.10.2024", "--workers", "2")
    watcher.join()
    assert sent.is_set()
    assert result.exit_code == 130, result.output
    assert "interrupted (SIGTERM)" in result.stderr
    record = load_state().history[-1]
    assert record.details["interrupted"] is True and record.result == "partial"
    tasks = summary_tasks(ready)
    assert record.details["tasks_created"] == len(tasks)
    assert 2 <= len(tasks) < len(load_state().links)
    log = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    assert f"created={len(tasks)}" in log and "interrupted=SIGTERM" in log
    left = record.details["not_started"]
    assert left == len(load_state().links) - record.details["clients_ok"]
    history = " ".join(cli("history").stdout.split())  # not just "partial … 0 failed"
    assert f"interrupted, {left} not started" in history
    again = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert again.exit_code in (0, ExitCode.PARTIAL), again.output


def test_the_time_bound_stops_the_run_and_says_so(
    cli: Invoke, ready: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a bound already reached no client starts; exit PARTIAL, history marks it."""
    from trigon_sync.cli import run_guards

    monkeypatch.setattr(run_guards, "RUN_BOUND_HOURS", 0.0)
    result = cli("run-monthly", "--today", "31.10.2024")
    assert result.exit_code == ExitCode.PARTIAL, result.output
    assert "time bound" in result.output and "period(s) not started: 2024-10" in result.output
    assert load_state().history[-1].details["interrupted"] is True
    assert summary_tasks(ready) == []


def test_an_unexpected_error_still_leaves_its_log_line(
    cli: Invoke, ready: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 1 (a bug) is logged too."""
    from trigon_sync.monthly import run as monthly

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(monthly, "run_monthly", boom)
    result = cli("run-monthly", "--today", "31.10.2024")
    assert result.exit_code == ExitCode.UNEXPECTED
    log = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    assert "unexpected error: RuntimeError" in log


def test_doctor_measures_the_skew_live(cli: Invoke, ready: Running) -> None:
    """doctor's clock.services line: ok with real clocks, failed when Uku is a year ahead."""
    import json

    def clock_line() -> dict[str, str]:
        doc = json.loads(cli("doctor", "--json").stdout)
        return next(c for c in doc["checks"] if c["name"] == "clock.services")

    good = clock_line()
    assert good["status"] == "ok" and "Uku" in good["detail"], good
    ready.set_date_clock(lambda: dt.datetime.now(dt.UTC) + YEAR)
    bad = clock_line()
    assert bad["status"] == "fail" and "365 days behind" in bad["detail"], bad


def test_confirm_refuses_to_write_when_uku_shows_the_clock_off(
    cli: Invoke, sandbox: Running, write_config: Callable[[str], Path]
) -> None:
    """Other writing commands stop too: the HTTP layer refuses a write after a skewed answer."""
    from tests.cli.sandbox_home import sandbox_config, store_sandbox_secrets
    from trigon_sync.store.secrets import open_store

    write_config(sandbox_config(sandbox))
    store_sandbox_secrets(sandbox, open_store("keyring"))
    assert cli("import-clients").exit_code == 0
    sandbox.set_date_clock(lambda: dt.datetime.now(dt.UTC) + YEAR)
    result = cli("confirm", "--yes")
    assert result.exit_code == ExitCode.CLOCK, result.output
    assert "365 days behind Uku's" in result.output
    assert sandbox.world.writes() == []
