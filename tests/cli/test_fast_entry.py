"""The fast entry (cli/entry.py) answers the nightly no-op and `status --json` exactly as
the full app does, from a state summary it never trusts when stale, and without Typer,
pydantic, rich or a read of state.toml."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

from trigon_sync.cli import entry
from trigon_sync.cli.app import app
from trigon_sync.records.tables import Periods
from trigon_sync.sandbox import SANDBOX_COMPANY
from trigon_sync.store import paths, summary
from trigon_sync.store.state import ClientLink, load_state, load_summary, locked_state

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
    """state.toml replaced by a writer that knows nothing of the summary."""
    path = paths.state_file()
    fresh = path.with_name("state.new")
    fresh.write_text(state_text().replace(old, new), encoding="utf-8")
    fresh.replace(path)


def summary_path() -> Path:
    return summary.summary_file(paths.state_file())


FAST, APP, CONNECTS = "answered by the fast entry", "left to the app", "left to the app, due"
# name -> (change to the home after set_up, argv for run-monthly, who answers it)
HOMES: dict[str, tuple[Callable[[], object], list[str], str]] = {
    "nothing due": (lambda: None, NO_OP, FAST),
    "nothing due, loud": (lambda: None, ["run-monthly"], FAST),
    "nothing due, --today": (lambda: None, [*NO_OP, "--today", "07.10.2024"], FAST),
    "--home given": (lambda: None, ["--home", "HOME", *NO_OP], FAST),
    "due": (counted_to_august, NO_OP, CONNECTS),
    "missing summary": (lambda: summary_path().unlink(), NO_OP, FAST),
    "corrupt summary": (lambda: summary_path().write_bytes(b"\x00\xff[[[ garbage"), NO_OP, FAST),
    "summary of another format": (
        lambda: summary_path().write_text(
            summary_path().read_text(encoding="utf-8").replace("format = 1", "format = 7"),
            encoding="utf-8",
        ),
        NO_OP,
        FAST,
    ),
    "state edited by hand": (
        lambda: edit_in_place(("last_period_end = 2024-10-05", "last_period_end = 2024-10-07")),
        NO_OP,
        FAST,
    ),
    "hand edit makes a period due": (
        lambda: edit_in_place(
            ("last_period_end = 2024-10-05", "last_period_end = 2024-08-30"),
            ('last_period = "2024-09"', 'last_period = "2024-08"'),
        ),
        NO_OP,
        CONNECTS,
    ),
    "links removed by an older version": (
        lambda: saved_by_an_older_version('[links.f1]\ntrigon_id = "f1"', "[other]\nx = 1"),
        NO_OP,
        APP,
    ),
    "corrupt state": (lambda: paths.state_file().write_text("[[[", encoding="utf-8"), NO_OP, APP),
    "bad config": (
        lambda: paths.config_file().write_text(CONFIG.replace("last_calendar", "lst"), "utf-8"),
        NO_OP,
        APP,
    ),
    "clock behind the last run": (
        lambda: saved_by_an_older_version("2024-09-30T00:30:00", "2024-12-30T00:30:00"),
        NO_OP,
        APP,
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


def _fast(argv: list[str]) -> tuple[Outcome, bool]:
    """What the console script does: the fast answer, else the full app; and which."""
    before = _log_lines()
    call = entry.recognise(argv)
    assert call is not None
    answered = entry.answer(call)
    if answered is None:
        return _full(argv), False
    text, code = answered
    stdout = "" if text is None else text + "\n"
    return Outcome(stdout, "", code, _log_lines()[len(before) :]), True


def _without_summary(argv: list[str]) -> Outcome:
    """The answer from state.toml alone, as before there was a summary."""
    saved = summary_path().read_bytes() if summary_path().exists() else None
    summary_path().unlink(missing_ok=True)
    try:
        return _full(argv)
    finally:
        if saved is not None:
            summary_path().write_bytes(saved)


@pytest.mark.parametrize("name", list(HOMES))
def test_the_fast_entry_answers_as_the_app_does_from_state_toml(
    name: str, isolated_home: Path
) -> None:
    """Same stdout, stderr, exit code, log line and files as the full app reading
    state.toml itself, for the no-op and `status --json`; a stale, missing or foreign
    summary is never answered from, and anything but a quiet night goes to the app."""
    change, argv, who = HOMES[name]
    argv = [str(isolated_home) if arg == "HOME" else arg for arg in argv]
    with freeze_time(NOW):
        set_up()
        change()
        for call, expected in ((argv, who), (STATUS, FAST)):
            files = {p.name: p.read_bytes() for p in paths.home_dir().iterdir() if p.is_file()}
            if expected == CONNECTS:  # the app would connect: only the hand-over is checked
                parsed = entry.recognise(call)
                assert parsed is not None and entry.answer(parsed) is None
                assert not paths.logs_dir().exists()
            else:
                reference = _without_summary(call)
                assert _full(call) == reference
                got, fast = _fast(call)
                assert got == reference
                assert fast is (expected == FAST)
            left = {p.name: p.read_bytes() for p in paths.home_dir().iterdir() if p.is_file()}
            assert left == files  # nothing written but the log line
            assert os.environ[paths.ENV_HOME] == str(isolated_home)
    if name == "state edited by hand":  # the edit is seen, not the summary's 5th of October
        with freeze_time(NOW):
            assert "will count 08.10.2024–30.10.2024" in _fast(["run-monthly"])[0].stdout


@pytest.mark.parametrize(
    ("old", "new"),
    [('last_period = "2024-09"', 'last_period = "zz"'), ("[journal]", "[journal]\nperiod = 1")],
)
def test_a_summary_edited_by_hand_is_not_answered_from(old: str, new: str) -> None:
    """A summary whose fingerprint still matches but whose contents state.toml would
    refuse is not used: the answer, and any complaint, come from state.toml itself."""
    set_up()
    text = summary_path().read_text(encoding="utf-8")
    if old == "[journal]" and old not in text:
        text += "\n[journal]\n"
    assert old in text
    summary_path().write_text(text.replace(old, new, 1), encoding="utf-8")
    assert load_summary() is None
    with freeze_time(NOW):
        got, _ = _fast(STATUS)
        assert got == _without_summary(STATUS)
    assert "corrupt" not in got.stdout


def test_every_save_leaves_the_summary_of_what_it_wrote() -> None:
    """After any save the summary file is current and says what state.toml says; a save
    that dies between state.toml and the summary leaves a summary that is not used."""
    set_up()
    assert load_summary() == load_state().summary()
    with locked_state() as session:
        session.state.journal = Periods.from_document(
            {
                "period": "2024-10",
                "import_day": dt.date(2024, 10, 31),
                "window_start": dt.date(2024, 10, 6),
                "window_end": dt.date(2024, 10, 30),
                "started_at": "2024-10-31T00:30:00+02:00",
                "completed": {"2024-09": {"window_end": dt.date(2024, 10, 5)}},
            }
        )
        session.state.ignored.clear()
        session.state.record(RECORDED + dt.timedelta(days=31), "run-monthly --rerun", "partial")
        session.save()
    current = load_summary()
    assert current == load_state().summary()
    assert current is not None and current.journal.open_label == "2024-10"
    assert not current.journal.completed and not current.journal.unreadable_completed
    assert current.ignored == {}
    assert current.last_monthly_run is not None
    assert current.last_monthly_run.command == "run-monthly --rerun"

    def die(_summary: object, _path: Path) -> None:
        raise OSError("killed between the two writes")

    with pytest.MonkeyPatch.context() as patch, locked_state() as session:
        patch.setattr(summary, "write", die)
        session.state.links.clear()
        session.save()  # the state is saved; the summary's failure is not its failure
    assert load_state().links == {}
    assert load_summary() is None  # the old summary names the old state.toml


@pytest.mark.parametrize(
    ("argv", "call"),
    [
        (["run-monthly", "--quiet"], entry.Call("run-monthly", quiet=True)),
        (
            ["run-monthly", "-q", "--today=1.10.2024"],
            entry.Call("run-monthly", today="1.10.2024", quiet=True),
        ),
        (["--home", "/h", "-v", "run-monthly"], entry.Call("run-monthly", "/h", verbose=True)),
        (["--home=/h", "status", "--json"], entry.Call("status", "/h")),
        (["status"], None),  # the rich screen is the app's
        (["status", "--json", "-v"], None),
        (["run-monthly", "--json"], None),
        (["run-monthly", "--dry-run"], None),
        (["run-monthly", "--today"], None),
        (["run-monthly", "--today", "--quiet"], None),
        (["--home", "run-monthly"], None),
        (["--home=", "run-monthly"], None),
        (["run-monthly", "--help"], None),
        (["--version"], None),
        ([], None),
        (["schedule"], None),
    ],
)
def test_only_the_two_calls_are_recognised(argv: list[str], call: entry.Call | None) -> None:
    """Every other command line, and any option more, goes to the app as it is."""
    assert entry.recognise(argv) == call


def test_the_two_calls_load_neither_the_cli_framework_nor_the_whole_state() -> None:
    """In a fresh process, through the console script's entry, both calls answer without
    importing Typer, click, pydantic or rich (nor the writers' modules) and without
    opening state.toml: only its small summary."""
    set_up()
    code = (
        "import json, sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda e, a: opened.append(str(a[0])) if e == 'open' else None)\n"
        "from trigon_sync.cli import entry\n"
        "out = []\n"
        "for argv in (['run-monthly', '--quiet', '--today', '10.10.2024'], ['status', '--json']):\n"
        "    sys.argv = ['trigon-sync', *argv]\n"
        "    try:\n"
        "        entry.main()\n"
        "    except SystemExit as exc:\n"
        "        out.append(exc.code)\n"
        "heavy = ('typer', 'click', 'pydantic', 'rich', 'tomli_w', 'tomlkit', 'filelock',"
        " 'httpx', 'workalendar', 'keyring')\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "read = [p for p in opened if p.endswith('state.toml')]\n"
        "print(json.dumps([out, loaded, read]))\n"
    )
    env = {**os.environ, paths.ENV_HOME: str(paths.home_dir())}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    codes, loaded, read = json.loads(lines[-1])
    assert codes == [0, 4], done.stdout  # status: no connection is stored (exit 4)
    assert loaded == [] and read == []
    status = json.loads("\n".join(lines[:-1]))
    assert status["clients"]["linked"] == 1 and status["window"]["last_period"] == "2024-09"
    log = (paths.logs_dir() / "trigon-sync.log").read_text(encoding="utf-8")
    assert re.search(r"run-monthly today=2024-10-10 nothing due; next import 31\.10", log)


OUTPUT_TROUBLE = {
    "stdout is a full disk": ({}, "/dev/full"),
    "stdout is closed": ({}, None),
    "an ASCII locale": ({"PYTHONIOENCODING": "ascii"}, "pipe"),
}
APP = "import sys; from trigon_sync.cli.app import main; sys.argv[0] = 'trigon-sync'; main()"
ENTRY = "import sys; from trigon_sync.cli.entry import main; sys.argv[0] = 'trigon-sync'; main()"


@pytest.mark.parametrize("trouble", list(OUTPUT_TROUBLE))
def test_a_stdout_that_cannot_take_the_answer_fails_as_the_app_does(trouble: str) -> None:
    """A full disk, a closed stdout or a locale that cannot carry "–": the fast entry ends
    as the app does (the same error line and exit code, or the app's own way of writing),
    never with a traceback."""
    extra, target = OUTPUT_TROUBLE[trouble]
    if target == "/dev/full" and not Path(target).exists():
        pytest.skip("no /dev/full here")
    set_up()
    env = {**os.environ, paths.ENV_HOME: str(paths.home_dir()), **extra}

    def run(program: str, argv: list[str]) -> tuple[bytes, str, int]:
        with contextlib.ExitStack() as stack:
            out: Any = subprocess.PIPE
            if target == "/dev/full":
                out = stack.enter_context(Path(target).open("wb"))
            done = subprocess.run(
                [sys.executable, "-c", program, *argv],
                stdout=None if target is None else out,
                stderr=subprocess.PIPE,
                env=env,
                timeout=60,
                preexec_fn=_close_stdout if target is None else None,
            )
        return done.stdout or b"", done.stderr.decode(), done.returncode

    for argv in (["run-monthly", "--today", "10.10.2024"], ["status", "--json"]):
        fast, app = run(ENTRY, argv), run(APP, argv)
        assert "Traceback" not in fast[1], fast[1]
        assert fast[2] == app[2], (fast, app)
        if argv[0] == "status":  # the document names today's time; the rest is the same
            assert fast[1] == app[1]
        else:
            assert fast == app


def _close_stdout() -> None:
    os.close(1)


def test_a_latin1_locale_gets_every_answer_in_characters_it_can_write() -> None:
    """Debian's plain et_EE locale is Latin-1: "–" is written as an escape instead of
    ending in UnicodeEncodeError, and the JSON document is the same document."""
    set_up()
    env = {**os.environ, paths.ENV_HOME: str(paths.home_dir())}

    def run(argv: list[str], encoding: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-c", ENTRY, *argv],
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


def test_status_remembers_the_flags_only_for_the_ledger_and_settings_it_read() -> None:
    """The flagged clients status remembers answer only while the ledger and the
    [anomalies] settings are the ones they came from: an appended line or another spike
    factor is read again, and every answer equals one computed from the ledger."""
    from trigon_sync.store import ledger, ledger_flags

    set_up()
    writer = ledger.LedgerWriter()
    mapping = (("sales_invoices_created", "Sales invoice created"),)

    def write(period: str, count: int) -> None:
        writer.write(
            period=period, firm="f1", registration_code="10137319", name="Alpha OÜ",
            uku_client=1001, task=int(period[-2:]), action="create", mapping=mapping,
            counts={"sales_invoices_created": count}, at=RECORDED,
        )  # fmt: skip

    for month in range(4, 10):
        write(f"2024-{month:02d}", 12 + month)
    write("2024-10", 0)  # every count 0 after activity: flagged

    def answer() -> tuple[dict[str, object], dict[str, object]]:
        """(the fast entry's document, the same computed from the ledger alone)."""
        with freeze_time(NOW):
            got = _fast(STATUS)[0]
            saved = ledger_flags.flags_file().read_bytes()
            ledger_flags.flags_file().unlink()
            reference = _full(STATUS)
            ledger_flags.flags_file().write_bytes(saved)
        return json.loads(got.stdout), json.loads(reference.stdout)

    first, reference = answer()
    assert first == reference and [r["trigon_id"] for r in first["anomalies"]] == ["f1"]
    with pytest.MonkeyPatch.context() as patch:  # the second call does not read the ledger

        def unread(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("the ledger was read again")

        patch.setattr(ledger, "newest_period", unread)
        with freeze_time(NOW):
            again = json.loads(_fast(STATUS)[0].stdout)
    assert again == first
    write("2024-10", 30)  # the newest line wins: nothing flagged any more
    fixed, reference = answer()
    assert fixed == reference and fixed["anomalies"] == []
    write("2024-10", 900)
    paths.config_file().write_text(CONFIG + "\n[anomalies]\nspike_factor = 1000\n", "utf-8")
    calm, reference = answer()
    assert calm == reference and calm["anomalies"] == []
    paths.config_file().write_text(CONFIG + "\n[anomalies]\nspike_factor = 3\n", "utf-8")
    spiked, reference = answer()
    assert spiked == reference and spiked["anomalies"][0]["flags"][0]["kind"] == "spike"
