"""The shapes of a sandbox seed: ``seed.schema.json``, checked by jsonschema (the sandbox extra).

:func:`schema_problems` lists every schema error with its place in the document, in the
words of docs/sandbox.md; ``seed_reader.py`` adds what a schema cannot say and builds the
typed seed. jsonschema is imported on first use only.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = Path(__file__).with_name("seed.schema.json")
Path_ = tuple[str | int, ...]
"""A place in the seed document: keys and list indexes from the top."""


_SCHEMA_CLEAN: dict[str, None] = {}
"""Fingerprints of documents that passed the schema, newest last (at most ``_CLEAN_KEPT``).

jsonschema takes about a second for a 300-firm seed; the tests and the demo build many
worlds from the same few documents, and an equal document passes again. The builder's
checks still run every time."""
_CLEAN_KEPT = 64


def _fingerprint(raw: Any) -> str:
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _remember_clean(fingerprint: str) -> None:
    _SCHEMA_CLEAN.pop(fingerprint, None)
    _SCHEMA_CLEAN[fingerprint] = None
    while len(_SCHEMA_CLEAN) > _CLEAN_KEPT:
        del _SCHEMA_CLEAN[next(iter(_SCHEMA_CLEAN))]


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # "date" is checked by the standard library; the builder checks timestamps itself
    # (with a message that asks for the offset).
    return Draft202012Validator(
        _inlined(schema, schema.get("$defs", {})), format_checker=FormatChecker(formats=["date"])
    )


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with each ``{"$ref": "#/$defs/x"}`` replaced by ``x`` (its own keys kept).

    The same rules, checked without a reference lookup per value: a seed's records cite
    ``timestamp`` twice each, and resolving those references was a third of the time
    jsonschema took (a 500-firm seed: 5.5 s, now 3.7 s). ``$defs`` are not recursive."""
    if isinstance(node, list):
        return [_inlined(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    own = {key: _inlined(value, defs) for key, value in node.items() if key != "$ref"}
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**_inlined(defs[ref.removeprefix("#/$defs/")], defs), **own}
    return own if ref is None else {**own, "$ref": ref}


_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_REQUIRED = re.compile(r"^'(?P<key>[^']*)' is a required property$")


def _explained(error: ValidationError) -> tuple[Path_, str]:
    """Where a schema error is and what it means, in the words of docs/sandbox.md."""
    path: Path_ = tuple(error.absolute_path)
    rule, value = error.validator, cast(Any, error.validator_value)
    if rule == "required":
        missing = _REQUIRED.match(error.message)
        return ((*path, missing["key"]) if missing else path), "is required"
    if rule == "type":
        kinds = [value] if isinstance(value, str) else list(value)
        return path, "must be " + " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    if rule == "enum":
        return path, "must be one of " + ", ".join(map(str, value))
    if rule == "minLength":
        return path, "must be a non-empty string"
    if rule == "minimum":
        return path, f"must be at least {value}"
    if rule == "format" and value == "date":
        return path, "must be a date YYYY-MM-DD"
    if rule == "pattern" and path and path[-1] == "first_entry_date":
        return path, "must be dd.mm.yyyy"
    return path, error.message


def json_path(path: Path_) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def schema_problems(raw: Any) -> list[tuple[Path_, str]]:
    """Every place ``raw`` breaks the schema and what it means (none for a document seen clean)."""
    fingerprint = _fingerprint(raw)
    errors = [] if fingerprint in _SCHEMA_CLEAN else list(_validator().iter_errors(raw))
    if not errors:
        _remember_clean(fingerprint)
    return [_explained(error) for error in errors]
