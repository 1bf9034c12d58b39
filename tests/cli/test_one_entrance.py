"""One entrance: the console script and `python -m trigon_sync` are the Typer app, and the
two calls made all day long (the nightly no-op and `status --json`) load no more than
`trigon-sync --version` does plus what reading the state needs. Their answers come from
state.toml as it is now (no cache beside it to go stale) and the records database."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from freezegun import freeze_time
from typer._coercion import build_runtime_param
from typer.core import _TyperParameter
from typer.testing import CliRunner

from trigon_sync import clock
from trigon_sync.cli import lazy_params
from trigon_sync.cli.app import app
from trigon_sync.monthly import gate as monthly_gate
from trigon_sync.sandbox import SANDBOX_COMPANY
from trigon_sync.store import paths
from trigon_sync.store.state import OLD_CACHES, ClientLink, locked_state

CONFIG = (
    '[trigon]\nbase_url = "http://127.0.0.1:9/v1"\ntoken_store = "file"\n\n'
    f'[uku]\nbase_url = "http://127.0.0.1:9/api/v3"\ncompany = "{SANDBOX_COMPANY}"\n\n'
    '[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
    'first_import_date = 2024-09-01\nschedule = "last_calendar_day"\n\n'
    '[fields]\nsales_invoices_created = "Sales invoice created"\n'
)
NOW = "2024-10-20 09:00:00"  # UTC: 12:00 in Tallinn
RECORDED = dt.datetime(2024, 9, 30, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
NO_OP = ["run-monthly", "--quiet"]
STATUS = ["status", "--json"]


def set_up() -> None:
    """A home as the commands leave it: September counted up to the 5th of October (by
    the other system), one linked client, one ignored firm, run records."""
    paths.ensure_home()
    paths.config_file().write_text(CONFIG, encoding="utf-8")
    with locked_state() as session:
        state = session.state
        state.links["f1"] = ClientLink("f1", "10137319", "Alpha OÜ", 1001, dt.date(2024, 9, 1))
        state.ignored["f9"] = {"name": "Gamma AS", "registration_code": "10000009"}
        state.complete_window(dt.date(2024, 10, 5), "2024-09")
        state.record(RECORDED, "run-monthly", "ok", periods=["2024-09"], clients_ok=1)
        state.record(RECORDED, "import-clients", "ok", created=1)
        session.save()


def state_text() -> str:
    return paths.state_file().read_text(encoding="utf-8")


def edit_in_place(*edits: tuple[str, str]) -> None:
    """A hand edit that keeps the inode, the size and the mtime: only ctime tells."""
    path = paths.state_file()
    before = path.stat()
    text = state_text()
    for old, new in edits:
        assert old in text and len(old) == len(new)
        text = text.replace(old, new)
    with path.open("r+", encoding="utf-8") as handle:
        handle.write(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_ino == before.st_ino


def counted_to_august() -> None:
    """A proper save after which September is due (its import day is past)."""
    with locked_state() as session:
        session.state.complete_window(dt.date(2024, 8, 30), "2024-08")
        session.save()


def saved_by_an_older_version(old: str, new: str) -> None:
    """state.toml replaced by another writer (an older version, a restore)."""
    path = paths.state_file()
    fresh = path.with_name("state.new")
    fresh.write_text(state_text().replace(old, new), encoding="utf-8")
    fresh.replace(path)


QUIET, DUE = "nothing due", "due: the app would connect"
# name -> (change to the home after set_up, argv for run-monthly, what the night is)
HOMES: dict[str, tuple[Callable[[], object], list[str], str]] = {
    "nothing due": (lambda: None, NO_OP, QUIET),
    "nothing due, loud": (lambda: None, ["run-monthly"], QUIET),
    "nothing due, --today": (lambda: None, [*NO_OP, "--today", "07.10.2024"], QUIET),
    "--home given": (lambda: None, ["--home", "HOME", *NO_OP], QUIET),
    "due": (counted_to_august, NO_OP, DUE),
    "state edited by hand": (
        lambda: edit_in_place(("last_period_end = 2024-10-05", "last_period_end = 2024-10-07")),
        NO_OP,
        QUIET,
    ),
    "hand edit makes a period due": (
        lambda: edit_in_place(
            ("last_period_end = 2024-10-05", "last_period_end = 2024-08-30"),
            ('last_period = "2024-09"', 'last_period = "2024-08"'),
        ),
        NO_OP,
        DUE,
    ),
    "links removed by an older version": (
        lambda: saved_by_an_older_version('[links.f1]\ntrigon_id = "f1"', "[other]\nx = 1"),
        NO_OP,
        QUIET,
    ),
    "corrupt state": (lambda: paths.state_file().write_text("[[[", encoding="utf-8"), NO_OP, QUIET),
    "bad config": (
        lambda: paths.config_file().write_text(CONFIG.replace("last_calendar", "lst"), "utf-8"),
        NO_OP,
        QUIET,
    ),
    "clock behind the last run": (
        lambda: saved_by_an_older_version("2024-09-30T00:30:00", "2024-12-30T00:30:00"),
        NO_OP,
        QUIET,
    ),
}


@dataclass(frozen=True)
class Outcome:
    stdout: str
    stderr: str
    code: int
    log: list[str]
    """Log lines this call added (time stamps cut off)."""


def _log_lines() -> list[str]:
    try:
        text = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.split(" ", 1)[1] for line in text.splitlines()]


def _full(argv: list[str]) -> Outcome:
    before = _log_lines()
    result = CliRunner().invoke(app, argv)
    return Outcome(result.stdout, result.stderr, result.exit_code, _log_lines()[len(before) :])


def _due(day: dt.date) -> list[str]:
    """The periods the monthly run would count on ``day`` (the gate, before connecting)."""
    return [run.period for run in monthly_gate.start_night(day, clock.now()).schedule(day).due]


def _files() -> dict[str, bytes]:
    """The home's files (SQLite's shared-memory index ``-shm`` aside: readers mark it)."""
    home = paths.home_dir()
    return {
        p.name: p.read_bytes() for p in home.iterdir() if p.is_file() and p.suffix != ".sqlite3-shm"
    }


@pytest.mark.parametrize("name", list(HOMES))
def test_the_app_answers_from_state_toml_as_it_is_now(name: str, isolated_home: Path) -> None:
    """The no-op and `status --json` answer from state.toml as it is at the call (a hand
    edit that keeps size, inode and mtime included: there is no cache beside it to go
    stale), twice alike, never with a traceback, and write no file but the log. A night
    with a period due is checked up to the gate's answer (the run would connect)."""
    change, argv, night = HOMES[name]
    argv = [str(isolated_home) if arg == "HOME" else arg for arg in argv]
    with freeze_time(NOW):
        set_up()
        change()
        for call in (argv, STATUS):
            files = _files()
            if call is argv and night == DUE:
                assert _due(clock.today())
                continue
            first = _full(call)
            assert first.code != 1 and "Traceback" not in first.stderr, first
            assert _full(call) == first
            assert _files() == files  # nothing written but the log line
            assert os.environ[paths.ENV_HOME] == str(isolated_home)
    if name == "state edited by hand":  # the edit is seen at once
        with freeze_time(NOW):
            assert "will count 08.10.2024–30.10.2024" in _full(["run-monthly"]).stdout


def test_the_two_calls_answer_as_they_always_have() -> None:
    """The app's answers on a quiet night, pinned: the one line (none with --quiet), exit
    0 and one log line; `status --json` one document, nothing on stderr, exit 4 (no
    connection stored)."""
    night = "next import 31.10.2024 will count 06.10.2024–30.10.2024 (period 2024-10)"
    with freeze_time(NOW):
        set_up()
        logged = [f"run-monthly today=2024-10-20 nothing due; {night}"]
        assert _full(["run-monthly"]) == Outcome(f"Nothing due: {night}.\n", "", 0, logged)
        assert _full(NO_OP) == Outcome("", "", 0, logged)
        status = _full(STATUS)
    assert (status.stderr, status.code, status.log) == ("", 4, [])
    document = json.loads(status.stdout)
    assert document["command"] == "status" and document["exit_code"] == 4
    assert document["clients"]["linked"] == 1 and document["window"]["last_period"] == "2024-09"


def test_the_caches_of_older_versions_are_removed_by_the_first_writing_command() -> None:
    """state.summary.toml and ledger.flags.json are derived files no reader uses any
    more: the first command that writes removes them."""
    set_up()
    for name in OLD_CACHES:
        (paths.home_dir() / name).write_text("format = 1\n", encoding="utf-8")
    with locked_state():
        pass
    assert not [name for name in OLD_CACHES if (paths.home_dir() / name).exists()]


APP = "import sys; from trigon_sync.cli.app import main; sys.argv[0] = 'trigon-sync'; main()"
"""What the console script runs (pyproject.toml [project.scripts]; __main__.py the same)."""
LOADED = (
    "import json, sys\n"
    "opened = []\n"
    "sys.addaudithook(lambda e, a: opened.append(str(a[0])) if e == 'open' else None)\n"
    "sys.argv = ['trigon-sync', *sys.argv[1:]]\n"
    "from trigon_sync.cli.app import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "read = [p for p in opened if p.endswith('state.toml')]\n"
    "print(json.dumps([code, sorted(sys.modules), read]), file=sys.stderr)\n"
)
"""The console script's entrance, then its exit code, every module loaded and each time
state.toml was opened, on stderr's last line."""
NEVER = ("httpx", "rich", "pydantic", "workalendar", "keyring", "tomlkit", "tomli_w", "filelock")
NEVER_OURS = (
    "trigon_sync.sandbox",
    "trigon_sync.trigon",
    "trigon_sync.uku",
    "trigon_sync.http.session",
    "trigon_sync.clients",
    "trigon_sync.billing",
    "trigon_sync.health.doctor",
    "trigon_sync.monthly.run",
    "trigon_sync.monthly.plan",
    "trigon_sync.cli.monthly_view",
    "trigon_sync.cli.consoles",
)
READING_STATE = (
    # the settings, the state and the records database, the timeline and the run log
    "trigon_sync.clock",
    "trigon_sync.dates",
    "trigon_sync.settings",
    "trigon_sync.records",
    "trigon_sync.schedule",
    "trigon_sync.timeline",
    "trigon_sync.store",
    "trigon_sync.http.clock_skew",
    "trigon_sync.monthly.gate",
    "trigon_sync.monthly.log_file",
    "trigon_sync.health.status",
    "trigon_sync.health.checks",
    "trigon_sync.health.local_checks",
    # the two commands' own modules
    "trigon_sync.cli.monthly_cmd",
    "trigon_sync.cli.status_cmd",
    "trigon_sync.cli.params",
    # the TOML parser (store/toml_read.py)
    "tomli",
)
"""What the two calls may load beyond `--version` (with their parent packages and the
standard library): the modules that read config.toml, the state and the ledger."""


def _loaded(argv: list[str]) -> tuple[int, set[str], list[str]]:
    env = {**os.environ, paths.ENV_HOME: str(paths.home_dir())}
    done = subprocess.run(
        [sys.executable, "-c", LOADED, *argv], capture_output=True, text=True, env=env, timeout=60
    )
    code, modules, read = json.loads(done.stderr.splitlines()[-1])
    return code, set(modules), read


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top.startswith("_sysconfigdata"):
        return True
    if top.endswith("__mypyc"):
        return True  # the runtime of a wheel compiled by mypyc (tomli's), named by a hash
    return any(
        module == name or module.startswith(name + ".") or name.startswith(module + ".")
        for name in READING_STATE
    )


def test_the_two_calls_load_what_version_loads_and_what_reading_the_state_needs() -> None:
    """In a fresh process, through the console script's entrance, a night with nothing due
    (`run-monthly --quiet`) and `status --json` import nothing beyond `--version`'s
    modules but the standard library and the modules that read the state: not httpx,
    rich, pydantic, workalendar, keyring, tomlkit, the API clients or the sandbox; and
    they read state.toml once (it no longer grows with nights)."""
    set_up()
    today = clock.today()
    for _ in range(3):  # counted up to today's window, as a real night finds it
        due = monthly_gate.start_night(today, clock.now()).schedule(today).due
        if not due:
            break
        with locked_state() as session:
            session.state.complete_window(due[-1].window_end, due[-1].period)
            session.save()
    version_code, version, _ = _loaded(["--version"])
    assert version_code == 0
    assert not {m.split(".")[0] for m in version} & set(NEVER)
    for argv, expected in ((["run-monthly", "--quiet"], 0), (["status", "--json"], 4)):
        code, modules, read = _loaded(argv)
        assert code == expected, argv  # status: no connection is stored (exit 4)
        beyond = modules - version
        assert sorted(m for m in beyond if not _allowed(m)) == [], argv
        assert not {m.split(".")[0] for m in modules} & set(NEVER), argv
        assert not [m for m in modules if m.startswith(NEVER_OURS)], argv
        assert len(read) == 1 and read[0].endswith("state.toml"), argv
    log = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    assert f"run-monthly today={today} nothing due; next import " in log


def test_an_option_left_at_its_default_is_what_typers_coercion_makes_of_it() -> None:
    """cli/lazy_params.py passes a plain default unchecked (no pydantic); for every option
    of every command that is exactly the value Typer's own coercion returns."""
    group = typer.main.get_command(app)
    ctx = group.make_context("trigon-sync", [], resilient_parsing=True)
    checked = 0

    def walk(command: Any) -> None:
        nonlocal checked
        for param in command.params:
            if isinstance(param, _TyperParameter) and lazy_params.unchanged(param.default, param):
                typer_own = build_runtime_param(param.type_descriptor)
                value = typer_own.coerce(param.default, param=param, ctx=ctx)
                assert value == param.default and type(value) is type(param.default)
                checked += 1
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    for name in group.list_commands(ctx):
        walk(group.get_command(ctx, name))
    assert checked > 10  # --workers 8, --limit 20, --count ...


DISK_FULL = (
    "error: cannot write: No space left on device; free disk space or make the trigon-sync "
    "home writable, then run again (files already saved are unchanged)\n"
)
# trouble -> (environment, stdout, exit codes of the no-op and `status --json`, stderr)
OUTPUT_TROUBLE: dict[str, tuple[dict[str, str], str | None, tuple[int, int], str]] = {
    "stdout is a full disk": ({}, "/dev/full", (8, 8), DISK_FULL),
    "stdout is closed": ({}, None, (0, 4), ""),
    "an ASCII locale": ({"PYTHONIOENCODING": "ascii"}, "pipe", (0, 4), ""),
}


@pytest.mark.parametrize("trouble", list(OUTPUT_TROUBLE))
def test_a_stdout_that_cannot_take_the_answer_ends_in_one_line_or_none(trouble: str) -> None:
    """A full disk, a closed stdout or a locale that cannot carry "–": the entrance ends
    with the boundary's one line and exit code (a full disk: 8), or writes as it can,
    never with a traceback."""
    extra, target, codes, stderr = OUTPUT_TROUBLE[trouble]
    if target == "/dev/full" and not Path(target).exists():
        pytest.skip("no /dev/full here")
    set_up()
    env = {**os.environ, paths.ENV_HOME: str(paths.home_dir()), **extra}

    def run(argv: list[str]) -> tuple[str, int]:
        with contextlib.ExitStack() as stack:
            out: Any = subprocess.PIPE
            if target == "/dev/full":
                out = stack.enter_context(Path(target).open("wb"))
            done = subprocess.run(
                [sys.executable, "-c", APP, *argv],
                stdout=None if target is None else out,
                stderr=subprocess.PIPE,
                env=env,
                timeout=60,
                preexec_fn=_close_stdout if target is None else None,
            )
        return done.stderr.decode(), done.returncode

    calls = (["run-monthly", "--today", "10.10.2024"], ["status", "--json"])
    for argv, code in zip(calls, codes, strict=True):
        assert run(argv) == (stderr, code), argv


def _close_stdout() -> None:
    os.close(1)


def test_a_latin1_locale_gets_every_answer_in_characters_it_can_write() -> None:
    """Debian's plain et_EE locale is Latin-1: "–" is written as an escape instead of
    ending in UnicodeEncodeError, and the JSON document is the same document."""
    set_up()
    env = {**os.environ, paths.ENV_HOME: str(paths.home_dir())}

    def run(argv: list[str], encoding: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "trigon_sync", *argv],
            capture_output=True,
            env={**env, "PYTHONIOENCODING": encoding},
            timeout=60,
        )

    night = run(["run-monthly", "--today", "10.10.2024"], "latin-1")
    assert night.returncode == 0 and night.stderr == b""
    assert "06.10.2024\\u201330.10.2024" in night.stdout.decode("latin-1")
    wide, narrow = run(["status", "--json"], "utf-8"), run(["status", "--json"], "latin-1")
    assert narrow.returncode == wide.returncode and b"Traceback" not in narrow.stderr
    assert json.loads(narrow.stdout.decode("latin-1")) == json.loads(wide.stdout)


def test_status_flags_follow_every_ledger_write_and_setting_at_once() -> None:
    """The flagged clients of `status --json` are read from the newest period's ledger
    rows at each call: a newer write or another spike factor shows at the next call."""
    from trigon_sync.store import ledger

    set_up()
    writer = ledger.LedgerWriter()
    mapping = (("sales_invoices_created", "Sales invoice created"),)

    def write(period: str, count: int) -> None:
        writer.write(
            period=period, firm="f1", registration_code="10137319", name="Alpha OÜ",
            uku_client=1001, task=int(period[-2:]), action="create", mapping=mapping,
            counts={"sales_invoices_created": count}, at=RECORDED,
        )  # fmt: skip

    def answer() -> dict[str, Any]:
        with freeze_time(NOW):
            document: dict[str, Any] = json.loads(_full(STATUS).stdout)
        return document

    for month in range(4, 10):
        write(f"2024-{month:02d}", 12 + month)
    write("2024-10", 0)  # every count 0 after activity: flagged
    first = answer()
    assert [r["trigon_id"] for r in first["anomalies"]] == ["f1"]
    write("2024-10", 30)  # the newest row wins: nothing flagged any more
    assert answer()["anomalies"] == []
    write("2024-10", 900)
    paths.config_file().write_text(CONFIG + "\n[anomalies]\nspike_factor = 1000\n", "utf-8")
    assert answer()["anomalies"] == []
    paths.config_file().write_text(CONFIG + "\n[anomalies]\nspike_factor = 3\n", "utf-8")
    assert answer()["anomalies"][0]["flags"][0]["kind"] == "spike"
