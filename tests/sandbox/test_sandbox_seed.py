"""Seed files: validation with every problem listed, and the generator's promised contents."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from stdnum.ee import kmkr, registrikood

from trigon_sync.clock import TALLINN
from trigon_sync.sandbox import SandboxWorld, SeedError, generate_seed, load_seed, parse_seed
from trigon_sync.sandbox.generator import COUNT_FIELD_NAMES
from trigon_sync.sandbox.register_file import write_register_zip

SCHEMA = Path(__file__).parents[2] / "trigon_sync" / "sandbox" / "seed.schema.json"

ISSUE_EXAMPLE: dict[str, Any] = {
    "trigon": {
        "users": [
            {"email": "a@firm.ee", "password": "pw", "active": True, "list": ["*"], "view": ["*"]}
        ],
        "firms": [
            {
                "id": "f1",
                "name": "Alpha OÜ",
                "registration_code": "10137319",
                "vat_number": "EE100000001",
            }
        ],
        "records": [
            {
                "firm": "f1",
                "type": "sales_invoice",
                "created_at": "2024-10-05T10:00:00+03:00",
                "updated_at": "2024-10-06T09:00:00+03:00",
            }
        ],
        "reporting_persons": [{"firm": "f1", "active_from": "2024-01-01", "active_to": None}],
        "fixed_assets": [
            {"firm": "f1", "depreciation_start": "2023-05-01", "depreciation_end": "2027-04-30"}
        ],
    },
    "uku": {
        "company": "c-1",
        "api_key": "key",
        "clients": [{"id": 7, "name": "Beta AS", "registration_code": "10000005"}],
        "topics": [{"id": 1, "name": "Bookkeeping"}],
        "custom_fields": [{"id": 10, "name": "Sales invoices", "type": "number", "entity": "task"}],
        "members": [{"id": 1, "email": "manager@firm.ee"}],
    },
    "register": [{"registration_code": "10137319", "name": "Alpha OÜ", "status": "R"}],
}


def test_the_issue_example_seed_loads(tmp_path: Path) -> None:
    """The seed shown in the issue is valid as written and loads from a file."""
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(ISSUE_EXAMPLE), encoding="utf-8")
    seed = load_seed(path)
    assert seed.trigon.records[0].updated_at.utcoffset().total_seconds() == 3 * 3600
    assert seed.uku.clients[0]["country"] == "EE"
    assert seed.uku.plan == "team"


def test_every_problem_is_reported_with_its_path() -> None:
    """A broken seed lists each bad entry by JSON path, not just the first one."""
    broken = json.loads(json.dumps(ISSUE_EXAMPLE))
    broken["trigon"]["records"][0]["created_at"] = "2024-10-05T10:00:00"
    broken["trigon"]["records"].append({"firm": "f9", "type": "invoice", "created_at": "x"})
    broken["uku"]["custom_fields"][0]["type"] = "money"
    del broken["uku"]["api_key"]
    broken["register"][0]["status"] = "X"
    with pytest.raises(SeedError) as caught:
        parse_seed(broken)
    problems = "\n".join(caught.value.problems)
    for path in (
        "$.trigon.records[0].created_at: needs an offset",
        "$.trigon.records[1].firm: unknown firm id 'f9'",
        "$.trigon.records[1].type",
        "$.trigon.records[1].created_at",
        "$.uku.custom_fields[0].type",
        "$.uku.api_key: is required",
        "$.register[0].status",
    ):
        assert path in problems


def test_unreadable_seed_file_is_a_usage_error(tmp_path: Path) -> None:
    """A missing or non-JSON file raises SeedError (exit code USAGE) naming the file."""
    with pytest.raises(SeedError, match="cannot read"):
        load_seed(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(SeedError, match="not JSON"):
        load_seed(tmp_path / "bad.json")


def test_schema_file_is_valid_json_and_names_the_sections() -> None:
    """seed.schema.json (documentation of the format) is JSON Schema with the three sections."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"trigon", "uku", "register"} <= set(schema["properties"])


def test_generator_is_deterministic() -> None:
    """The same n and seed give byte-identical JSON; another seed gives another world."""
    assert json.dumps(generate_seed(25, seed=4)) == json.dumps(generate_seed(25, seed=4))
    assert generate_seed(25, seed=4) != generate_seed(25, seed=5)


def test_generated_seed_validates() -> None:
    """A generated seed passes the same validation as a hand-written one."""
    seed = parse_seed(generate_seed(40, seed=1))
    assert len(seed.trigon.firms) == 40


def test_generator_anomalies_are_exactly_as_documented() -> None:
    """At 20+ firms: 1 shared code, 1 bad check digit, 3 unregistered, 2 in Uku, 2 without View."""
    data = generate_seed(40, seed=11)
    firms = {f["id"]: f for f in data["trigon"]["firms"]}
    codes = Counter(f["registration_code"] for f in firms.values())
    register = {r["registration_code"] for r in data["register"]}
    anomalies = data["anomalies"]

    assert [n for n in codes.values() if n > 1] == [2]
    (pair,) = anomalies["duplicate_code"]
    assert firms[pair[0]]["registration_code"] == firms[pair[1]]["registration_code"]

    invalid = [f["id"] for f in firms.values() if not registrikood.is_valid(f["registration_code"])]
    assert invalid == anomalies["bad_check_digit"] and len(invalid) == 1

    unregistered = sorted(
        f["id"]
        for f in firms.values()
        if registrikood.is_valid(f["registration_code"]) and f["registration_code"] not in register
    )
    assert unregistered == sorted(anomalies["missing_from_register"]) and len(unregistered) == 3

    uku_codes = {c["registration_code"]: c for c in data["uku"]["clients"]}
    matches = [f for f in firms.values() if f["registration_code"] in uku_codes]
    assert len(matches) == 2
    assert all(uku_codes[f["registration_code"]]["name"] != f["name"] for f in matches)

    admin = data["trigon"]["users"][0]
    assert admin["email"] == "admin@firm.ee" and len(admin["deny_view"]) == 2
    assert [u["email"] for u in data["trigon"]["users"] if not u.get("active", True)] == [
        "inactive@firm.ee"
    ]
    assert [u["email"] for u in data["trigon"]["users"] if u.get("removed")] == ["former@firm.ee"]


def test_generator_uku_company() -> None:
    """Uku has a Bookkeeping topic, the 14 count fields plus one text field, and the manager."""
    uku = generate_seed(20)["uku"]
    assert "Bookkeeping" in [t["name"] for t in uku["topics"]]
    numbers = [f["name"] for f in uku["custom_fields"] if f["type"] == "number"]
    assert numbers == list(COUNT_FIELD_NAMES) and len(numbers) == 14
    assert [f["type"] for f in uku["custom_fields"]].count("text") == 1
    assert "manager@firm.ee" in [m["email"] for m in uku["members"]]


def test_small_seeds_are_clean_and_knobs_override() -> None:
    """Below 20 firms no anomalies unless asked; knobs set the exact numbers."""
    small = generate_seed(5)
    assert all(not v for v in small["anomalies"].values())
    tuned = generate_seed(30, duplicate_codes=0, no_view=5, spaced_codes=1)
    assert tuned["anomalies"]["duplicate_code"] == [] and len(tuned["anomalies"]["no_view"]) == 5
    (spaced,) = tuned["anomalies"]["spaced_codes"]
    code = next(f for f in tuned["trigon"]["firms"] if f["id"] == spaced)["registration_code"]
    assert " " in code and registrikood.is_valid(code)
    with pytest.raises(TypeError, match="unknown"):
        generate_seed(30, duplicates=1)


def test_generated_records_cover_the_awkward_cases() -> None:
    """Records span 2024-09..2025-06, include DST days, holidays, midnight, UTC and edits."""
    records = generate_seed(40, seed=2)["trigon"]["records"]
    created = [dt.datetime.fromisoformat(r["created_at"]) for r in records]
    local = [c.astimezone(TALLINN) for c in created]
    days = {d.date() for d in local}
    assert min(days) >= dt.date(2024, 9, 1) and max(days) <= dt.date(2025, 6, 30)
    assert {dt.date(2024, 10, 27), dt.date(2025, 3, 30), dt.date(2024, 12, 24)} <= days
    assert any(d.hour == 23 and d.minute >= 45 for d in local)
    assert any(c.utcoffset() == dt.timedelta(0) for c in created)
    same = sum(r["updated_at"] == r["created_at"] for r in records)
    assert 0.5 < same / len(records) < 0.8
    assert any(r["date"] < r["created_at"][:10] for r in records)  # back-dated documents


def test_vat_numbers_are_valid() -> None:
    """Every generated VAT number passes python-stdnum's KMKR check."""
    firms = generate_seed(60, seed=3)["trigon"]["firms"]
    vats = [f["vat_number"] for f in firms if f["vat_number"]]
    assert vats and all(kmkr.is_valid(v) for v in vats)


def test_register_zip_from_a_seed_opens_with_zipfile_and_csv(tmp_path: Path) -> None:
    """The seed's register written as the real zip reads back with the real file's dialect."""
    data = generate_seed(30, seed=6)
    path = tmp_path / "register.zip"
    write_register_zip(data["register"], path)
    with zipfile.ZipFile(path) as archive:
        raw = archive.read("ettevotja_rekvisiidid__lihtandmed.csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";", quotechar='"'))
    assert [r["ariregistri_kood"] for r in rows] == [
        r["registration_code"] for r in data["register"]
    ]


def test_world_builds_from_a_large_seed() -> None:
    """A 500-firm world (the benchmark size) indexes every firm and record of its seed."""
    data = generate_seed(500, seed=0)
    world = SandboxWorld(data)  # build time: a figure in benchmarks/startup_bench.py
    assert len(world.trigon.records) == len(data["trigon"]["records"])
    assert set(world.trigon.firms) == {firm["id"] for firm in data["trigon"]["firms"]}


def test_shapes_come_from_the_schema_file_and_each_problem_is_one_line() -> None:
    """A valid seed broken in place fails again (no stale pass), with every problem on its
    own line: schema rules (type, minimum, pattern) beside the cross-reference checks."""
    good = json.loads(json.dumps(ISSUE_EXAMPLE))
    parse_seed(good)  # passes, and is remembered as schema-clean
    good["uku"]["topics"][0]["id"] = 0
    good["uku"]["tasks"] = [{"id": 1, "title": "t", "client_id": 999, "date": "2024-10-31"}]
    good["register"][0]["first_entry_date"] = "2024-10-01"
    good["trigon"]["firms"][0]["name"] = 7
    with pytest.raises(SeedError) as caught:
        parse_seed(good)
    problems = caught.value.problems
    assert all("\n" not in p and p.startswith("$.") for p in problems)
    assert "$.uku.topics[0].id: must be at least 1" in problems
    assert "$.uku.tasks[0].client_id: unknown client id 999" in problems
    assert "$.register[0].first_entry_date: must be dd.mm.yyyy" in problems
    assert "$.trigon.firms[0].name: must be a string" in problems


def test_unrelated_tasks_are_checked_with_their_path() -> None:
    """``uku.unrelated_tasks`` must have a count of 0 or more and ``last`` not before
    ``first``; each problem names its JSON path, and a good one is kept as a formula."""
    seed = generate_seed(2, seed=1, unrelated_tasks=10)
    assert parse_seed(seed).uku.unrelated_tasks is not None
    bad = copy.deepcopy(seed)
    bad["uku"]["unrelated_tasks"] = {"count": 5, "first": "2024-01-02", "last": "2024-01-01"}
    with pytest.raises(SeedError, match=r"\$\.uku\.unrelated_tasks: .*last"):
        parse_seed(bad)
    bad["uku"]["unrelated_tasks"] = {"count": -1}
    with pytest.raises(SeedError, match=r"unrelated_tasks"):
        parse_seed(bad)
