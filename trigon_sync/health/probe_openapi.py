"""Uku's public OpenAPI document against what our client sends: every difference.

Pure. The probe fetches ``/api/v3/openapi.json`` (served without a key) and passes the
document and the task body the client sends (uku/adapter.py). Each difference is one
line; an empty list means the document describes what we send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_JSON_TYPES = {
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "null": (type(None),),
    "array": (list,),
    "object": (dict,),
    "boolean": (bool,),
}


def _schemas(document: Any) -> Mapping[str, Any]:
    components = document.get("components") if isinstance(document, Mapping) else None
    schemas = components.get("schemas") if isinstance(components, Mapping) else None
    return schemas if isinstance(schemas, Mapping) else {}


def _resolve(schema: Any, schemas: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        schema = schemas.get(ref.rsplit("/", 1)[-1])
    return schema if isinstance(schema, Mapping) else {}


def _task_create(document: Any, schemas: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request body schema of POST /tasks (or a schema named TaskCreate)."""
    try:
        schema = document["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
    except (KeyError, TypeError):
        schema = schemas.get("TaskCreate")
    return _resolve(schema, schemas)


def _fits(value: Any, schema: Mapping[str, Any]) -> bool:
    wanted = schema.get("type")
    if wanted is None:
        return True
    names = wanted if isinstance(wanted, list) else [wanted]
    if schema.get("nullable") is True:
        names = [*names, "null"]
    kinds = tuple(t for n in names for t in _JSON_TYPES.get(str(n), ()))
    if isinstance(value, bool) and "boolean" not in names:
        return False
    return isinstance(value, kinds)


def openapi_differences(document: Any, sent: Mapping[str, Any]) -> list[str]:
    """Every way ``sent`` (a POST /tasks body) and the custom-field schema disagree with
    ``document``."""
    schemas = _schemas(document)
    create = _task_create(document, schemas)
    if not create:
        return ["the document has no request schema for POST /tasks"]
    found = create.get("properties")
    props: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    out = []
    for name, value in sent.items():
        prop = _resolve(props.get(name), schemas) if name in props else None
        if prop is None:
            out.append(f"POST /tasks: we send {name!r}, the document does not list it")
        elif not _fits(value, prop):
            out.append(
                f"POST /tasks: {name!r} is {type(value).__name__} here, "
                f"the document says {prop.get('type')!r}"
            )
    for name in create.get("required") or ():
        if name not in sent:
            out.append(f"POST /tasks: the document requires {name!r}, we do not send it")
    items = _resolve(_resolve(props.get("custom_fields"), schemas).get("items"), schemas)
    found = items.get("properties")
    values: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    for name in ("field_id", "value"):
        if "custom_fields" in props and name not in values:
            out.append(f"custom_fields items: the document has no {name!r}")
    field_schema = _resolve(schemas.get("CustomField"), schemas)
    kinds = _resolve((field_schema.get("properties") or {}).get("type"), schemas).get("enum")
    if not field_schema:
        out.append("the document has no CustomField schema")
    elif isinstance(kinds, list):
        out.extend(
            f"CustomField.type: the document does not list {kind!r}"
            for kind in ("number", "integer")
            if kind not in kinds
        )
    return out
