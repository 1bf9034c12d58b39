"""The small OpenAPI document the sandbox Uku serves at ``/api/v3/openapi.json``.

The real Uku serves its public OpenAPI document there without a key (Uku's own CLI
notes); ``doctor --probe`` compares its task and custom-field schemas with what our client
sends. This one describes docs/uku-api.md's contract, so against the sandbox the
comparison finds no difference.
"""

from __future__ import annotations

from typing import Any

_FIELD_VALUE = {
    "type": "object",
    "required": ["field_id", "value"],
    "properties": {
        "field_id": {"type": "integer"},
        "value": {"type": ["number", "string", "null"]},
    },
}


def openapi_document() -> dict[str, Any]:
    """The document, built afresh (callers may change it)."""
    task_write: dict[str, Any] = {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"type": "string"},
            "client_id": {"type": ["integer", "null"]},
            "topic_id": {"type": ["integer", "null"]},
            "date": {"type": ["string", "null"], "format": "date"},
            "status": {"type": "string", "enum": ["new", "in_progress", "finished"]},
            "description": {"type": ["string", "null"]},
            "custom_fields": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/FieldValue"},
            },
        },
    }
    task = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, **task_write["properties"]},
    }
    custom_field = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "type": {"type": "string", "enum": ["number", "integer", "text", "date", "select"]},
            "entity": {"type": "string", "enum": ["task", "client"]},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Uku Public API (sandbox)", "version": "3"},
        "paths": {
            "/tasks": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/TaskCreate"}
                            }
                        }
                    }
                }
            },
            "/tasks/{id}/complete": {"post": {}},
        },
        "components": {
            "schemas": {
                "TaskCreate": task_write,
                "Task": task,
                "FieldValue": _FIELD_VALUE,
                "CustomField": custom_field,
            }
        },
    }
