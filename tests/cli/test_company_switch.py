"""`connect-uku` to another Uku company while clients are linked (issue 21, item 2).

Two sandboxes on 127.0.0.1: company A, where the firms were imported and linked, and
company B (a test company swapped for production, say), whose clients hold the same ids
for other customers. Connecting to B is refused, naming how many links it affects,
unless --drop-links; with it no task is ever written on an unrelated client of B, and
the firms are linked again in B by code. `import-clients` shows a link whose Uku client
was re-coded as a mismatch with the reason, not as `linked`.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.sandbox_home import Invoke, sandbox_config, store_sandbox_secrets
from trigon_sync.errors import ExitCode
from trigon_sync.registration_codes import normalise_code
from trigon_sync.sandbox import (
    SANDBOX_COMPANY,
    SANDBOX_UKU_KEY,
    Running,
    SandboxWorld,
    generate_seed,
    run_sandbox,
)
from trigon_sync.store import paths
from trigon_sync.store.secrets import open_store
from trigon_sync.store.state import load_state

COMPANY_B = "7d3e5f10-2b4c-4a6d-9e8f-0a1b2c3d4e5f"
FIELDS = (
    '[summary]\ntask_title = "Monthly summary {period}"\ntopic = "Bookkeeping"\n'
    'first_import_date = 2024-10-01\nschedule = "last_calendar_day"\n\n'
    '[fields]\nsales_invoices_created = "Sales invoice created"\n'
    'payments_created = "Payment created"\n'
)


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    return generate_seed(12, seed=7)


@pytest.fixture
def company_b(seed: dict[str, Any]) -> Iterator[Running]:
    """Company B: same Trigon, its own Uku clients: other customers at the ids A used."""
    seed_b = copy.deepcopy(seed)
    seed_b["uku"]["company"] = COMPANY_B
    world = SandboxWorld(seed_b)
    with world.lock:
        for i in range(60):
            world.uku.create_client(
                {"name": f"Muu Klient {i} OÜ", "registration_code": f"9{i:07d}"}
            )
    with run_sandbox(world) as running:
        yield running


@pytest.fixture
def linked_in_a(sandbox: Running, write_config: Callable[[str], Path], cli: Invoke) -> Running:
    """Connected to company A (the module's sandbox), firms imported and linked there."""
    write_config(sandbox_config(sandbox) + "\n" + FIELDS)
    store_sandbox_secrets(sandbox, open_store("keyring"))
    assert cli("import-clients").exit_code == 0
    assert cli("confirm", "--yes").exit_code in (0, ExitCode.PARTIAL)
    assert load_state().links
    return sandbox


def _connect_b(cli: Invoke, b: Running, *extra: str) -> Any:
    return cli(
        "connect-uku",
        "--company",
        COMPANY_B,
        "--uku-url",
        b.uku_url,
        "--key-stdin",
        *extra,
        stdin=SANDBOX_UKU_KEY + "\n",
    )


def _tasks(running: Running) -> list[dict[str, Any]]:
    return running.world.uku_state()["tasks"]


def test_connect_to_another_company_is_refused_then_drop_links_writes_no_unrelated_task(
    cli: Invoke, linked_in_a: Running, company_b: Running
) -> None:
    links = load_state().links
    config_before = paths.config_file().read_bytes()
    b_ids = {c["id"] for c in company_b.world.uku_state()["clients"]}
    assert {link.uku_client_id for link in links.values()} <= b_ids  # the trap is real

    refused = _connect_b(cli, company_b)
    assert refused.exit_code == ExitCode.USAGE
    assert f"{len(links)} client link(s) were made in Uku company {SANDBOX_COMPANY}" in (
        refused.stderr
    )
    assert f"--drop-links to forget these {len(links)} link(s)" in refused.stderr
    assert "Traceback" not in refused.output
    assert load_state().links == links
    assert paths.config_file().read_bytes() == config_before
    assert company_b.world.requests("uku") == []  # refused before the key was even tried

    dropped = _connect_b(cli, company_b, "--drop-links")
    assert dropped.exit_code == 0, dropped.output
    assert f"Forgot {len(links)} client link(s)" in dropped.stderr
    assert load_state().links == {}
    config = tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    assert config["uku"]["company"] == COMPANY_B
    cli("run-monthly", "--today", "31.10.2024")
    assert _tasks(company_b) == []

    # The firms are matched again in B by registration code; tasks land only on them.
    assert cli("import-clients").exit_code == 0
    assert cli("confirm", "--yes").exit_code in (0, ExitCode.PARTIAL)
    relinked = load_state().links
    assert relinked and {link.uku_company for link in relinked.values()} == {COMPANY_B}
    result = cli("run-monthly", "--today", "31.10.2024")
    assert result.exit_code in (0, ExitCode.PARTIAL), result.output
    clients_b = {c["id"]: c for c in company_b.world.uku_state()["clients"]}
    codes = {link.uku_client_id: link.registration_code for link in relinked.values()}
    assert _tasks(company_b)
    for task in _tasks(company_b):
        client = clients_b[task["client_id"]]
        assert normalise_code(client["registration_code"]) == codes[task["client_id"]]
    assert _tasks(linked_in_a) == []


def test_import_clients_shows_a_recoded_uku_client_as_a_mismatch(
    cli: Invoke, linked_in_a: Running
) -> None:
    link = sorted(load_state().links.values(), key=lambda x: x.trigon_id)[0]
    with linked_in_a.world.lock:
        linked_in_a.world.uku.update_client(link.uku_client_id, {"registration_code": "10000004"})
    shown = cli("import-clients")
    assert shown.exit_code == 0, shown.output
    assert "1 linked but mismatched" in shown.stdout
    rows = json.loads(cli("import-clients", "--json").stdout)
    row = next(r for r in rows if r["trigon_id"] == link.trigon_id)
    assert row["action"] == "mismatch"
    assert "now has registration code 10000004" in row["reason"]
    assert f"trigon-sync unlink {link.registration_code}" in row["reason"]


def test_a_refused_switch_says_only_why_it_was_refused(
    cli: Invoke, linked_in_a: Running, company_b: Running
) -> None:
    """The file-store note belongs to a connection that is made; a refused one printed it
    first, above the refusal, as if something had been stored."""
    refused = _connect_b(cli, company_b, "--token-store", "file")
    assert refused.exit_code == ExitCode.USAGE
    assert refused.stderr.lstrip().startswith("error:"), refused.stderr
    assert "note: tokens are kept" not in refused.stderr
