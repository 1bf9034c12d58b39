"""docs/trigon-api.md as JSON Schemas: every way one Trigon answer differs from it.

Trigon publishes nothing; our contract is docs/trigon-api.md, and the shapes of the answers
the client reads are kept as JSON Schemas beside this module (``schemas/``, shipped as
package data so the installed tool can read them). ``doctor --probe`` reads one page of
each endpoint and passes each answer here: all differences are listed at once (the
validator's ``iter_errors``), never only the first, so one probe shows the whole gap.
Extra fields are never a difference (the contract names only what we use).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Any, Literal

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource

Shape = Literal["me", "firms", "firm", "count", "error"]
SHAPES: tuple[Shape, ...] = ("me", "firms", "firm", "count", "error")
"""One schema per answer shape: ``count`` serves every ``/count`` endpoint (the six
collections and the two snapshots); ``error`` any non-2xx answer."""


@functools.cache
def _registry() -> Registry[Any]:
    """Every schema by its ``$id``, so ``firms`` can refer to ``firm``'s firm object."""
    folder = resources.files("trigon_sync.trigon") / "schemas"
    pairs = []
    for shape in SHAPES:
        document = json.loads((folder / f"{shape}.schema.json").read_text(encoding="utf-8"))
        pairs.append((document["$id"], Resource.from_contents(document)))
    return Registry[Any]().with_resources(pairs)


def schema(shape: Shape) -> dict[str, Any]:
    """The JSON Schema of one answer shape (docs/trigon-api.md)."""
    for uri in _registry():
        if uri.endswith(f"/{shape}.schema.json"):
            contents: dict[str, Any] = _registry().contents(uri)
            return contents
    raise KeyError(shape)


def _where(error: ValidationError) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _text(error: ValidationError) -> str:
    """One difference in words, short: the instance is quoted only when it is small."""
    message = error.message
    if len(message) > 160:
        message = f"{error.validator} {error.validator_value!r} does not hold"[:160]
    return f"{_where(error) or '(the answer)'}: {message}"


def differences(shape: Shape, body: Any) -> list[str]:
    """Every way ``body`` differs from the schema of ``shape``, in document order; [] when
    it fits."""
    validator = Draft202012Validator(schema(shape), registry=_registry())
    found: Iterable[ValidationError] = validator.iter_errors(body)
    ordered = sorted(found, key=lambda e: [(str(type(p)), p) for p in e.absolute_path])
    return [_text(e) for e in ordered]
