"""`import-clients`, `confirm` and `clients` through the CLI, against the sandbox on 127.0.0.1."""

from __future__ import annotations

import gc
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from tests.seed_counts import ImportCounts, import_counts
from trigon_sync.business_register.index import RegisterIndex
from trigon_sync.cli import output
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running, generate_seed
from trigon_sync.sandbox.register_file import write_register_zip
from trigon_sync.store import paths
from trigon_sync.store import state as state_module
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import load_state


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    """30 firms with one of each import anomaly."""
    return generate_seed(30, seed=7)


@pytest.fixture(scope="module")
def expected(seed: dict[str, Any]) -> ImportCounts:
    """The plan counts the seed implies, counted from its firm and anomaly lists."""
    return import_counts(seed)


def manager_id(seed: dict[str, Any], email: str) -> int:
    """The seeded Uku member id of ``email``."""
    return next(m["id"] for m in seed["uku"]["members"] if m["email"] == email)


@pytest.fixture
def connected(sandbox: Running, write_config: Callable[[str], Path]) -> Running:
    """A home connected to both sandbox servers (tokens in the test's in-memory keyring)."""
    write_config(sandbox_config(sandbox))
    store_sandbox_secrets(sandbox, open_store("keyring"))
    return sandbox


@pytest.fixture
def register_zip(seed: dict[str, Any], tmp_path: Path) -> Path:
    path = tmp_path / "ettevotja_rekvisiidid__lihtandmed.csv.zip"
    write_register_zip(seed["register"], path)
    return path


def uku_codes(sandbox: Running) -> Counter[str]:
    return Counter(c["registration_code"] for c in sandbox.world.uku_state()["clients"])


def flat(text: str) -> str:
    """Output with the table drawing and line wrapping removed."""
    for ch in "│┃┏┓┗┛┡┩└┘├┤┼━─╇╈┳┻┴┬":
        text = text.replace(ch, " ")
    return " ".join(text.split())


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 200-column console, so table cells do not wrap in the captured output."""
    monkeypatch.setattr(output.stdout, "width", 200)


def test_import_clients_shows_and_stages_the_plan(
    cli: Invoke,
    connected: Running,
    register_zip: Path,
    seed: dict[str, Any],
    expected: ImportCounts,
    wide: None,
) -> None:
    """The table has Estonian names, red-X rows and a summary line; nothing is written to Uku."""
    result = cli("import-clients", "--register", str(register_zip))
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    firm_names = [f["name"] for f in seed["trigon"]["firms"]]
    estonian = [name for name in firm_names if set(name) & set("ÕÄÖÜõäöü")]
    assert estonian
    assert all(name in text for name in estonian)
    assert "✗" in result.stdout
    e = expected
    # the counts are what `confirm` does: firms without View are not selected by default
    assert (
        f"{e.firms} firm(s): {e.to_create - e.unviewable_create} to create, "
        f"{e.to_link - e.unviewable_link} to link, 0 already linked, {e.conflicts} conflict(s) "
        f"(never applied), {e.unviewable_create + e.unviewable_link} left out (no View; "
    ) in text
    assert (
        f"{e.not_in_register} not in the register ✗, {e.bad_check_digit} bad check digit, "
        f"{e.no_view} without View permission"
    ) in text
    assert "register not checked" not in text
    assert "trigon-sync confirm" in text
    assert connected.world.writes() == []
    assert load_state().staged_import is not None


def test_the_register_index_is_let_go_before_the_state_is_saved(
    cli: Invoke, connected: Running, register_zip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan holds the register's verdicts, so its index (10 MB at full size) is not kept
    alive through the save, the import's peak at 5,000 clients (benchmarks/memory_bench.py)."""
    alive: list[int] = []

    def count_indexes(_temp: Path) -> None:
        gc.collect()
        alive.append(
            sum(
                1
                for o in gc.get_objects()
                if isinstance(o, RegisterIndex) and o.source == register_zip
            )
        )

    monkeypatch.setattr(state_module, "before_replace_hook", count_indexes)
    assert cli("import-clients", "--register", str(register_zip)).exit_code == 0
    assert alive == [0]


def test_without_a_register_file_the_output_says_register_not_checked(
    cli: Invoke, connected: Running, expected: ImportCounts
) -> None:
    """No register file: only check digits, and the output says so instead of passing silently."""
    result = cli("import-clients")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "Business Register not checked" in text
    assert "not in the register" not in text
    assert f"{expected.bad_check_digit} bad check digit" in text


def test_import_clients_json_is_one_object_per_firm(
    cli: Invoke, connected: Running, expected: ImportCounts
) -> None:
    """--json prints an array: trigon_id, name, registration_code, action, flags,
    uku_client_id, reason, conflicts_with and ignored."""
    result = cli("import-clients", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == expected.firms
    assert set(rows[0]) == {
        "trigon_id",
        "name",
        "registration_code",
        "action",
        "flags",
        "uku_client_id",
        "reason",
        "conflicts_with",
        "ignored",
    }
    assert Counter(r["action"] for r in rows) == {
        "create": expected.to_create,
        "link": expected.to_link,
        "conflict": expected.conflicts,
    }
    assert "Business Register not checked" in flat(result.stderr)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"<html>not a zip</html>", "not a zip file"),
        ("csv", "lacks the column(s)"),
    ],
)
def test_a_bad_register_file_is_one_line_and_exit_2(
    cli: Invoke, connected: Running, tmp_path: Path, content: bytes | str, problem: str
) -> None:
    """A register file that is not a zip, or has the wrong columns, fails before any request."""
    path = tmp_path / "register.zip"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("ettevotja_rekvisiidid__lihtandmed.csv", "kood,nimi\n1,x\n")
    connected.world.clear_logs()
    result = cli("import-clients", "--register", str(path))
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert problem in result.stderr
    assert connected.world.requests("trigon") == connected.world.requests("uku") == []


def test_confirm_with_nothing_staged_is_a_clear_error(cli: Invoke, connected: Running) -> None:
    """confirm before import-clients: one line, exit 2, names the command to run."""
    result = cli("confirm", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("error: no import plan is staged")
    assert "import-clients" in result.stderr


def test_confirm_skip_with_a_code_not_in_the_plan_names_it(cli: Invoke, connected: Running) -> None:
    """--skip of a code that is not in the plan is refused before anything is written."""
    assert cli("import-clients").exit_code == 0
    result = cli("confirm", "--skip", "10137319", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "not in the staged import plan: 10137319" in result.stderr
    assert connected.world.writes() == []


def test_confirm_without_terminal_or_yes_refuses_and_writes_nothing(
    cli: Invoke, connected: Running
) -> None:
    """Under cron (no TTY) confirm needs --yes; nothing is written and the plan stays."""
    assert cli("import-clients").exit_code == 0
    before = paths.state_file().read_bytes()
    result = cli("confirm")
    assert result.exit_code == ExitCode.USAGE
    assert "--yes" in result.stderr
    assert connected.world.writes() == []
    assert paths.state_file().read_bytes() == before


def test_confirm_with_an_unknown_manager_writes_nothing(cli: Invoke, connected: Running) -> None:
    """An email no Uku user has is refused before the first create."""
    assert cli("import-clients").exit_code == 0
    result = cli("confirm", "--manager", "nobody@firm.ee", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "nobody@firm.ee" in result.stderr
    assert connected.world.writes() == []


def test_confirm_on_a_terminal_asks_with_the_counts(
    cli: Invoke, connected: Running, expected: ImportCounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a TTY the question shows create/link/skip counts; answering no writes nothing, exit 2."""
    assert cli("import-clients").exit_code == 0
    monkeypatch.setattr(output, "is_interactive", lambda: True)
    result = cli("confirm", "--skip", uku_plan_code(cli), stdin="n\n")
    assert result.exit_code == ExitCode.USAGE, result.output
    question = (
        f"Create {expected.create_selected - 1} Uku client(s), link {expected.link_selected} "
        "existing"
    )
    left_out = expected.unviewable_create + expected.unviewable_link
    assert f"{question}, skip {1 + left_out}" in flat(result.stdout + result.stderr)
    assert f"{left_out} without View are left out" in flat(result.stdout + result.stderr)
    assert "cancelled; nothing was written to Uku" in result.stderr
    assert connected.world.writes() == []


def uku_plan_code(cli: Invoke) -> str:
    """The code of the first firm the staged plan would create (one with View)."""
    rows = json.loads(cli("import-clients", "--json").stdout)
    return next(
        r["registration_code"]
        for r in rows
        if r["action"] == "create" and "no_view_permission" not in r["flags"]
    )


def test_confirm_imports_then_clients_lists_and_a_second_import_is_all_linked(
    cli: Invoke,
    connected: Running,
    register_zip: Path,
    seed: dict[str, Any],
    expected: ImportCounts,
) -> None:
    """confirm creates the rest with the manager, links the existing; a re-import is all linked."""
    assert cli("import-clients", "--register", str(register_zip)).exit_code == 0
    result = cli("confirm", "--yes", "--manager", "manager@firm.ee")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert (
        f"Created {expected.create_selected} Uku client(s), linked {expected.link_selected} "
        "existing, "
        f"skipped 0, {expected.conflicts} conflict(s) not applied"
    ) in text
    assert "assign managers and workflows in Uku; then `trigon-sync map-fields`" in text
    assert max(uku_codes(connected).values()) == 1
    created = [w["object"] for w in connected.world.writes() if w["method"] == "POST"]
    assert len(created) == expected.create_selected
    assert {c["manager_id"] for c in created} == {manager_id(seed, "manager@firm.ee")}

    listed = cli("clients", "--json")
    assert listed.exit_code == 0
    links = json.loads(listed.stdout)
    assert len(links) == expected.linked_after_confirm
    assert sum(link["not_in_register"] for link in links) == expected.not_in_register
    table = cli("clients")
    assert f"{expected.linked_after_confirm} linked client(s)." in table.stdout
    assert "✗" in table.stdout

    again = json.loads(cli("import-clients", "--json").stdout)
    left_out = {"create": expected.unviewable_create, "link": expected.unviewable_link}
    assert Counter(r["action"] for r in again) == {
        "linked": expected.linked_after_confirm,
        "conflict": expected.conflicts,
        **{action: n for action, n in left_out.items() if n},
    }
    nothing = cli("confirm", "--yes")
    assert nothing.exit_code == 0
    assert "Nothing to create or link" in nothing.stdout


def test_confirm_json_reports_each_row(
    cli: Invoke, connected: Running, expected: ImportCounts
) -> None:
    """confirm --json prints the counts and one entry per applied row."""
    assert cli("import-clients").exit_code == 0
    result = cli("confirm", "--yes", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["created"] == expected.create_selected
    assert report["counts"]["linked"] == expected.link_selected
    assert len(report["rows"]) == expected.linked_after_confirm


def test_clients_before_any_import_says_what_to_do(cli: Invoke) -> None:
    """With no links, clients explains how to get some."""
    result = cli("clients")
    assert result.exit_code == 0
    assert "import-clients" in result.stdout
    assert json.loads(cli("clients", "--json").stdout) == []


def test_import_clients_without_a_connection_says_connect(cli: Invoke) -> None:
    """Not connected: one line with the auth exit code."""
    result = cli("import-clients")
    assert result.exit_code == ExitCode.AUTH
    assert "trigon-sync connect" in result.stderr


def test_a_shared_code_needs_a_human_and_gets_a_way_through(
    cli: Invoke, connected: Running, seed: dict[str, Any]
) -> None:
    """Conflict rows say why and with whom; --owner imports the chosen firm; `ignore` keeps
    the other out of run-monthly's mail while status still lists it."""
    [(first, second)] = seed["anomalies"]["duplicate_code"]
    rows = {r["trigon_id"]: r for r in json.loads(cli("import-clients", "--json").stdout)}
    assert rows[first]["action"] == "conflict"
    assert rows[first]["reason"] == f"registration code also used by Trigon firm(s) {second}"
    assert [c["id"] for c in rows[first]["conflicts_with"]] == [second]
    assert rows[first]["conflicts_with"][0]["name"] == rows[second]["name"]
    code = rows[first]["registration_code"]

    owned = cli("import-clients", "--json", "--owner", f"{code}={second}")
    assert owned.exit_code == 0, owned.output
    rows = {r["trigon_id"]: r for r in json.loads(owned.stdout)}
    assert rows[second]["action"] in {"create", "link"}
    assert rows[first]["action"] == "conflict"
    confirmed = cli("confirm", "--yes", "--only", code)
    assert confirmed.exit_code == 0, confirmed.output
    assert second in load_state().links and first not in load_state().links

    refused = cli("ignore", second)
    assert refused.exit_code == ExitCode.USAGE
    assert "unlink" in refused.stderr
    ignored = cli("ignore", first)
    assert ignored.exit_code == 0, ignored.output
    assert first in load_state().ignored
    rows = {r["trigon_id"]: r for r in json.loads(cli("import-clients", "--json").stdout)}
    assert rows[first]["ignored"] is True
    status = json.loads(cli("status", "--json").stdout)
    assert [i["trigon_id"] for i in status["clients"]["ignored"]] == [first]
    undone = cli("ignore", first, "--undo")
    assert undone.exit_code == 0, undone.output
    assert load_state().ignored == {}


def test_an_owner_option_that_is_not_code_eq_firm_is_a_usage_error(cli: Invoke) -> None:
    """--owner needs CODE=FIRM_ID; anything else fails before any connection."""
    result = cli("import-clients", "--owner", "10137319")
    assert result.exit_code == ExitCode.USAGE
    assert "CODE=FIRM_ID" in result.stderr


def test_import_clients_on_a_home_never_set_up_says_so_and_fetches_nothing(
    cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No config.toml: one line pointing at connect, exit 4, no register download, no home."""
    home = tmp_path / "never-set-up"
    monkeypatch.setenv(paths.ENV_HOME, str(home))
    monkeypatch.setenv("TRIGON_SYNC_REGISTER_URL", "http://127.0.0.1:9/never-asked.zip")
    result = cli("import-clients")
    assert result.exit_code == ExitCode.AUTH, result.output
    assert "not set up" in result.stderr and "trigon-sync connect" in result.stderr
    assert "Business Register" not in result.output
    assert not home.exists()


def test_firms_without_view_are_not_selected_and_flagged_firms_are_warned_about(
    cli: Invoke, connected: Running, register_zip: Path, seed: dict[str, Any]
) -> None:
    """The plan leaves firms without View unticked and confirm leaves them out with one
    warning line each; --include takes one explicitly, and confirm prints one warning
    line per selected flagged firm (no View, red X, bad check digit) before it writes."""
    assert cli("import-clients", "--register", str(register_zip)).exit_code == 0
    rows = json.loads(cli("import-clients", "--register", str(register_zip), "--json").stdout)
    blind = [r for r in rows if "no_view_permission" in r["flags"] and r["action"] == "create"]
    assert blind, "the seed has a firm without View to create"
    table = cli("import-clients", "--register", str(register_zip))
    row_line = next(line for line in table.stdout.splitlines() if blind[0]["name"] in line)
    assert "☐" in row_line
    said = re.search(r"(\d+) to create, (\d+) to link", flat(table.stdout))
    assert said is not None
    ticked = sum(  # the table's rows (not its header) ticked for confirm
        1 for line in table.stdout.splitlines() if "☑" in line and re.search(r"\d{8}", line)
    )

    result = cli("confirm", "--yes")
    assert result.exit_code == 0, result.output
    # the summary counted what confirm then did, as the ticked rows show it
    done = re.search(r"Created (\d+) Uku client\(s\), linked (\d+) existing", result.stdout)
    assert done is not None and done.groups() == said.groups(), (said, result.stdout)
    assert int(said[1]) + int(said[2]) == ticked
    linked = {link.registration_code for link in load_state().links.values()}
    assert not {r["registration_code"] for r in blind} & linked
    for row in blind:
        assert f"warning: {row['name']} ({row['registration_code']}) is left out" in flat(
            result.stderr
        )
    flagged = [
        r
        for r in rows
        if {"not_in_register", "bad_check_digit"} & set(r["flags"])
        and r["action"] in ("create", "link")
        and "no_view_permission" not in r["flags"]
    ]
    warned = [line for line in result.stderr.splitlines() if "is selected although" in line]
    assert len(warned) == len(flagged)

    code = blind[0]["registration_code"]
    assert cli("import-clients", "--register", str(register_zip)).exit_code == 0
    chosen = cli("confirm", "--yes", "--include", code)
    assert chosen.exit_code == 0, chosen.output
    assert code in {link.registration_code for link in load_state().links.values()}
    assert f"({code}) is selected although the Trigon user may not View it" in flat(chosen.stderr)
