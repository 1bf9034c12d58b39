"""`[import] auto_import = "create"`: run-monthly imports new Trigon firms first (step 6)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from stdnum.ee import registrikood

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from tests.cli.set_up_once import set_up_once
from tests.disk_full import FullDisk
from tests.register_server import misbehaving_register
from trigon_sync.business_register.download import ENV_DEADLINE, ENV_MAX_MB, download_lock
from trigon_sync.business_register.file_format import default_register_file
from trigon_sync.business_register.source import ENV_URL
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import (
    SANDBOX_API_KEY,
    SANDBOX_EMAIL,
    SANDBOX_ID_TOKEN,
    Running,
    generate_seed,
)
from trigon_sync.settings import fields
from trigon_sync.store import paths
from trigon_sync.store.secrets import TRIGON_API_KEY, TRIGON_ID_TOKEN, Secret, open_store
from trigon_sync.store.state import load_state

OCTOBER = "31.10.2024"


def valid_code(body: str) -> str:
    code = body + registrikood.calc_check_digit(body + "0")
    assert registrikood.is_valid(code)
    return code


NEW_CODE = valid_code("1999001")  # added to Trigon and to the register
RED_X_CODE = valid_code("1999002")  # added to Trigon only: a red X


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(20, seed=4, no_view=0)


def monthly_config(sandbox: Running, auto: str | None) -> str:
    mapping = "\n".join(f'{f.key} = "{f.label_en}"' for f in fields.FIELDS)
    section = f'\n[import]\nauto_import = "{auto}"\n' if auto else ""
    return (
        sandbox_config(sandbox)
        + '\n[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
        'first_import_date = 2024-10-01\nschedule = "last_calendar_day"\n\n'
        f"[fields]\n{mapping}\n{section}"
    )


@pytest.fixture
def imported(
    seed: dict[str, Any],
    isolated_home: Path,
    memory_keyring: Any,
    write_config: Callable[[str], Path],
    cli: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str | None], Running]]:
    """Both sides connected, the register served, clients imported; then the setting chosen.
    The import is done once per worker, each test gets its own copy of world, home and
    keyring (tests/cli/set_up_once.py)."""

    def import_clients(sandbox: Running) -> None:
        monkeypatch.setenv(ENV_URL, sandbox.register_url)
        # The company exists in the Business Register; the firm only adds it to Trigon later.
        sandbox.world.register.append(
            {"registration_code": NEW_CODE, "name": "Uus Klient OÜ", "status": "R"}
        )
        write_config(monthly_config(sandbox, None))
        store_sandbox_secrets(sandbox, open_store("keyring"))
        assert cli("import-clients").exit_code == 0
        assert cli("confirm", "--yes").exit_code == 0

    with set_up_once(
        "auto_import.imported",
        seed,
        import_clients,
        home=isolated_home,
        secrets=memory_keyring.secrets,
        keep_in=lambda: tmp_path_factory.mktemp("imported"),
    ) as sandbox:
        monkeypatch.setenv(ENV_URL, sandbox.register_url)

        def setup(auto: str | None) -> Running:
            write_config(monthly_config(sandbox, auto))
            world = sandbox.world
            world.add_firm("f-new", "Uus Klient OÜ", NEW_CODE)
            world.register.append(
                {"registration_code": NEW_CODE, "name": "Uus Klient OÜ", "status": "R"}
            )
            world.add_firm("f-redx", "Puuduv Firma OÜ", RED_X_CODE)
            world.add_record("f-new", "sales_invoice", "2024-10-15T10:00:00+03:00")
            return sandbox

        yield setup


def client_of(sandbox: Running, code: str) -> list[dict[str, Any]]:
    return [c for c in sandbox.world.uku_state()["clients"] if c["registration_code"] == code]


def tasks_of(sandbox: Running, client_id: int) -> list[dict[str, Any]]:
    return [t for t in sandbox.world.uku_state()["tasks"] if t["client_id"] == client_id]


def test_a_firm_added_after_the_import_gets_its_task_in_the_next_run(
    cli: Invoke, imported: Callable[[str | None], Running]
) -> None:
    """With auto_import = "create" the new firm becomes a client and gets October's task."""
    sandbox = imported("create")
    result = cli("run-monthly", "--today", OCTOBER)
    assert result.exit_code == 0, result.output
    [client] = client_of(sandbox, NEW_CODE)
    [task] = tasks_of(sandbox, client["id"])
    assert task["title"] == "Monthly summary 2024-10"
    assert "f-new" in load_state().links
    text = flat(result.stderr)
    assert "Automatic client import: created 1 and linked 0 Uku client(s): Uus Klient OÜ" in text
    # the red-X firm and the seed's conflicts are reported, never created
    assert client_of(sandbox, RED_X_CODE) == []
    assert f"Puuduv Firma OÜ ({RED_X_CODE}): not in the Business Register" in text
    assert "conflict" in text
    assert "trigon-sync import-clients" in text


def test_the_dry_run_shows_the_import_and_writes_nothing(
    cli: Invoke, imported: Callable[[str | None], Running]
) -> None:
    """--dry-run names the firm it would create; Uku and state stay as they were."""
    sandbox = imported("create")
    writes, links = len(sandbox.world.writes()), set(load_state().links)
    result = cli("run-monthly", "--today", OCTOBER, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create 1 and link 0 Uku client(s): Uus Klient OÜ" in flat(result.stderr)
    assert len(sandbox.world.writes()) == writes
    assert set(load_state().links) == links
    as_json = cli("run-monthly", "--today", OCTOBER, "--dry-run", "--json")
    doc = json.loads(as_json.stdout)
    assert [row["trigon_id"] for row in doc["auto_import"]["planned"]] == ["f-new"]
    assert any(h["trigon_id"] == "f-redx" for h in doc["auto_import"]["held"])


def test_the_default_only_warns(cli: Invoke, imported: Callable[[str | None], Running]) -> None:
    """Without the setting nothing is created: the run warns that the firm is not linked."""
    sandbox = imported(None)
    result = cli("run-monthly", "--today", OCTOBER)
    assert result.exit_code == 0, result.output
    assert client_of(sandbox, NEW_CODE) == []
    assert "Automatic client import" not in result.stderr
    assert "Uus Klient OÜ" in flat(result.stderr)  # the not-linked warning


def test_without_the_register_nothing_is_created_automatically(
    cli: Invoke, imported: Callable[[str | None], Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline register and no copy: validity cannot be proven, so the firm is only reported."""
    sandbox = imported("create")
    monkeypatch.setenv(ENV_URL, "http://127.0.0.1:9/register.zip")
    default_register_file().unlink()  # the copy import-clients downloaded in the set-up
    result = cli("run-monthly", "--today", OCTOBER)
    assert result.exit_code == 0, result.output
    assert client_of(sandbox, NEW_CODE) == []
    text = flat(result.stderr)
    assert "check digit only" in text
    assert "Uus Klient OÜ" in text and "the Business Register could not be checked" in text


def test_api_key_mode_runs_the_month_and_revoked_keys_exit_auth(
    cli: Invoke, imported: Callable[[str | None], Running], memory_keyring
) -> None:
    """The monthly flow in api-key mode; once the key is revoked, exit 4 with one clear line."""
    sandbox = imported("create")
    store = open_store("keyring")
    store.set(TRIGON_ID_TOKEN, Secret(SANDBOX_ID_TOKEN))
    store.set(TRIGON_API_KEY, Secret(SANDBOX_API_KEY))
    text = paths.config_file().read_text(encoding="utf-8")
    paths.config_file().write_text(
        text.replace(f'email = "{SANDBOX_EMAIL}"', f'email = "{SANDBOX_EMAIL}"\nauth = "api-key"'),
        encoding="utf-8",
    )
    sandbox.world.revoke_refresh_tokens()  # proves the password connection is not used
    result = cli("run-monthly", "--today", OCTOBER)
    assert result.exit_code == 0, result.output
    assert len(tasks_of(sandbox, client_of(sandbox, NEW_CODE)[0]["id"])) == 1
    sandbox.world.revoke_api_keys()
    revoked = cli("run-monthly", "--today", "30.11.2024")
    assert revoked.exit_code == ExitCode.AUTH, revoked.output
    assert "credentials were revoked or are wrong" in flat(revoked.stderr)
    assert SANDBOX_API_KEY not in revoked.output and SANDBOX_ID_TOKEN not in revoked.output


def test_an_admins_staged_plan_survives_the_automatic_import(
    cli: Invoke, imported: Callable[[str | None], Running]
) -> None:
    """A plan staged by import-clients for review is still there for `confirm` afterwards."""
    imported("create")
    assert cli("import-clients").exit_code == 0
    staged = load_state().staged_import
    assert staged is not None
    assert cli("run-monthly", "--today", OCTOBER).exit_code == 0
    assert load_state().staged_import == staged
    again = cli("confirm", "--yes")
    assert again.exit_code == 0, again.output  # rows done meanwhile are "already linked"


def test_the_dry_run_does_not_store_a_register_download(
    cli: Invoke, imported: Callable[[str | None], Running]
) -> None:
    """No copy in the home: the dry run downloads to a temporary place and leaves none."""
    imported("create")
    default_register_file().unlink()
    register_dir = default_register_file().parent
    before = sorted(register_dir.iterdir())
    result = cli("run-monthly", "--today", OCTOBER, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create 1 and link 0 Uku client(s): Uus Klient OÜ" in flat(result.stderr)
    assert sorted(register_dir.iterdir()) == before


@pytest.mark.parametrize("failure", ["endless", "trickle", "disk full", "lock held"])
def test_a_failing_register_download_costs_the_nightly_run_one_warning(
    cli: Invoke,
    imported: Callable[[str | None], Running],
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    """The register copy is stale and its download fails in any way: the run goes on with
    the older copy, says so in one warning line, writes its tasks, leaves no partial file."""
    sandbox = imported("create")
    stale = time.time() - 10 * 86_400
    os.utime(default_register_file(), (stale, stale))
    monkeypatch.setenv(ENV_MAX_MB, "0.25")
    monkeypatch.setenv(ENV_DEADLINE, "1")
    with contextlib.ExitStack() as stack:
        if failure in ("endless", "trickle"):
            served = stack.enter_context(misbehaving_register(failure, gap=0.3))
            monkeypatch.setenv(ENV_URL, served.url)
        elif failure == "disk full":
            FullDisk(paths.register_dir(), monkeypatch).fill()
        else:
            stack.enter_context(download_lock(paths.register_dir()))
        started = time.monotonic()
        result = cli("run-monthly", "--today", OCTOBER)
        elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "Business Register file" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning:"), result.stderr
    assert "using the older file from" in flat(result.stderr)
    [client] = client_of(sandbox, NEW_CODE)  # the older copy still proves the new firm
    assert tasks_of(sandbox, client["id"])
    assert sorted(p.name for p in paths.register_dir().iterdir() if ".part" in p.name) == []
    if failure in ("endless", "trickle"):
        assert elapsed < 10
