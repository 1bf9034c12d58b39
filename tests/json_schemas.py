"""The documented ``--json`` outputs (docs/json-output.md) checked against their schemas.

Every CLI test's invocation goes through :func:`check_output`, so each real document a test
produces is validated against ``docs/schemas/<document>.schema.json``; a document with no
schema, or one that is not valid JSON, fails the test that printed it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMAS = Path(__file__).parent.parent / "docs" / "schemas"
SCHEMA_ID = "https://trigon-sync.invalid/schemas"
"""The schemas' ``$id`` prefix (``.invalid``: a name that can never be fetched)."""
GROUPS = {"state", "register", "sandbox"}
"""Command groups: the document is named after the group and its subcommand."""
GLOBAL_WITH_VALUE = {"--home"}


def document_name(args: Sequence[str]) -> str | None:
    """Which documented JSON document ``trigon-sync ARGS`` prints, or None for none."""
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in GLOBAL_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
            if words[0] not in GROUPS or len(words) == 2:
                break
    if not words:
        return None
    name = "-".join(words)
    if name == "report":
        wants = any(
            a == "json" and i and args[i - 1] in ("--format", "-f") for i, a in enumerate(args)
        ) or any(a in ("--format=json", "-fjson") for a in args)
        return name if wants else None
    if name == "doctor" and "--probe" in args:
        name = "doctor-probe"
    return name if "--json" in args else None


@cache
def registry() -> Registry[Any]:
    """Every schema under its ``$id``; a ``$ref`` resolves here and never over the network."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    schema = registry().contents(f"{SCHEMA_ID}/{name}.schema.json")
    return Draft202012Validator(schema, registry=registry())


def check_output(args: Sequence[str], stdout: str) -> None:
    """Fail when ``stdout`` of a ``--json`` invocation does not match its schema."""
    name = document_name(args)
    if name is None or not stdout.strip():
        return  # not a JSON invocation, or it failed before printing (stderr says why)
    doc: Any = json.loads(stdout)
    dump = os.environ.get("TRIGON_SYNC_DUMP_JSON")
    if dump:  # a developer's aid for writing a schema: collect real documents
        target = Path(dump) / name
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{os.getpid()}-{len(list(target.iterdir()))}.json").write_text(stdout)
        return
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, f"{name} --json breaks docs/schemas/{name}.schema.json: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:5]
    )
