"""``doctor --probe`` through the CLI against the sandbox on real sockets: the facts it
stores change what ``run-monthly`` does, and ``doctor`` shows them with their age."""

from __future__ import annotations

import json

from tests.cli.sandbox_home import Invoke
from tests.cli.test_run_monthly import ready, seed, summary_tasks  # noqa: F401  (fixtures)
from trigon_sync.errors import ExitCode
from trigon_sync.sandbox import Running
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.store import paths

UNKEPT = COUNT_FIELD_NAMES[2]  # the seed's field id 12


def test_a_field_not_kept_stops_the_run_until_a_new_probe(cli: Invoke, ready: Running) -> None:  # noqa: F811
    """The probe finds a mapped field Uku drops: exit 11 naming it; the next run-monthly
    exits 11 with one line naming the field and writes nothing; once Uku keeps the field
    again, a new probe lets the run write."""
    ready.set_behaviour(unkept_field_ids=[12])
    probed = cli("doctor", "--probe", "--json")
    assert probed.exit_code == ExitCode.UNSAFE, probed.output
    document = json.loads(probed.stdout)
    assert [f["name"] for f in document["fields"] if not f["kept"]] == [UNKEPT]
    assert ready.world.uku_state()["tasks"] == []  # the probe's task is gone
    assert paths.probe_facts_file().exists()

    refused = cli("run-monthly", "--today", "31.10.2024")
    assert refused.exit_code == ExitCode.UNSAFE, refused.output
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and UNKEPT in lines[0] and lines[0].startswith("error:")
    assert summary_tasks(ready) == []
    assert not [w for w in ready.world.writes() if "Monthly summary" in json.dumps(w["body"])]

    ready.set_behaviour(unkept_field_ids=[])
    again = cli("doctor", "--probe")
    assert again.exit_code == 0, again.output
    assert "NOT KEPT" not in again.stdout and "list lag: 0.0 s" in again.stdout
    ran = cli("run-monthly", "--today", "31.10.2024", "--quiet")
    assert ran.exit_code in (0, ExitCode.PARTIAL), ran.output
    assert summary_tasks(ready)
    assert [t for t in ready.world.uku_state()["tasks"] if "probe" in t["title"]] == []


def test_doctor_shows_the_stored_facts_and_their_age(cli: Invoke, ready: Running) -> None:  # noqa: F811
    """Without --probe, doctor names the last probe's date, lag and quirks (no probe:
    says how to make one)."""
    before = cli("doctor")
    assert "no probe yet" in before.stdout
    ready.set_behaviour(no_complete_endpoint=True)
    assert cli("doctor", "--probe").exit_code == 0
    after = cli("doctor", "--json")
    document = json.loads(after.stdout)
    assert document["probe"]["quirks"] == ["no_complete_endpoint"]
    shown = cli("doctor")
    assert "0 day(s) ago" in shown.stdout and "no_complete_endpoint" in shown.stdout


def test_the_probe_checks_trigon_against_its_contract(cli: Invoke, ready: Running) -> None:  # noqa: F811
    """The probe reads one page of each Trigon endpoint (GETs only) and stores the
    differences from docs/trigon-api.md with the facts: none against the sandbox."""
    ready.world.clear_logs()
    probed = cli("doctor", "--probe", "--json")
    assert probed.exit_code == 0, probed.output
    assert json.loads(probed.stdout)["trigon"] == []
    sent = ready.world.requests("trigon")
    assert any(r["path"].endswith("/fixed-assets/count") for r in sent)
    assert {r["method"] for r in sent if "/auth/" not in r["path"]} == {"GET"}
    stored = json.loads(paths.probe_facts_file().read_text(encoding="utf-8"))
    assert stored["trigon"] == [] and stored["probed_at"]
    shown = cli("doctor", "--probe")
    assert "Trigon answers against docs/trigon-api.md: as documented" in shown.stdout
