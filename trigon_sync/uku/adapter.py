"""Uku JSON <-> our models: every contract ASSUMPTION of docs/uku-api.md lives here.

Uku does not publish the client and task object shapes, the registration-code filter,
how a topic is referenced, the custom-field object or how to find our own task again.
What we assume about each is written down in the contract's "Assumptions" section and
coded only in this module, so a correction from production is a one-file change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from trigon_sync.errors import ApiError
from trigon_sync.shared_keys import SharedKeys
from trigon_sync.uku.models import (
    Client,
    ClientChanges,
    ClientDraft,
    CustomField,
    FieldValue,
    Member,
    Task,
    TaskChanges,
    TaskDraft,
    Topic,
    UkuWarning,
)

# Assumption 1: the registration code is a top-level, filterable client field.
CLIENT_CODE_FILTER = "registration_code"
# Assumption 2: a finished task has this status; completion is a status PATCH.
FINISHED_STATUS = "finished"
# How a summary task is found again (assumption 5) is monthly/task_identity.py's business.


class _Shape(Exception):
    pass


def unexpected_object(what: str, obj: Any) -> ApiError:
    return ApiError(
        f"Uku answered with an unexpected {what}: {str(obj)[:200]}",
        status=200,
        hint="the Uku API may differ from docs/uku-api.md (Assumptions); "
        "trigon_sync/uku/adapter.py is the place to fix",
    )


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Shape(key)
    return value


def _opt_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return None if value is None else _int(obj, key)


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return None if value is None else str(value)


def _parse(what: str, obj: Any, build: Any) -> Any:
    if not isinstance(obj, Mapping):
        raise unexpected_object(what, obj)
    try:
        return build(obj)
    except (_Shape, KeyError, TypeError, ValueError) as exc:
        raise unexpected_object(what, obj) from exc


# -- clients (assumption 1) ------------------------------------------------------------


def client_from_json(obj: Any) -> Client:
    return _parse(
        "client object",
        obj,
        lambda o: Client(
            id=_int(o, "id"),
            name=str(o["name"]),
            registration_code=_opt_str(o, "registration_code"),
            vat_number=_opt_str(o, "vat_number"),
            country=_opt_str(o, "country"),
            manager_id=_opt_int(o, "manager_id"),
        ),
    )


def client_draft_to_json(draft: ClientDraft) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": draft.name,
        "registration_code": draft.registration_code,
        "vat_number": draft.vat_number,
        "country": draft.country,
    }
    if draft.manager_id is not None:
        body["manager_id"] = draft.manager_id
    return body


def _set_only(*pairs: tuple[str, Any]) -> dict[str, Any]:
    """The pairs whose value is set: a PATCH body or a filter sends only what was given."""
    return {key: value for key, value in pairs if value is not None}


def client_changes_to_json(changes: ClientChanges) -> dict[str, Any]:
    return _set_only(
        ("name", changes.name),
        ("registration_code", changes.registration_code),
        ("vat_number", changes.vat_number),
        ("manager_id", changes.manager_id),
    )


def client_filter(registration_code: str | None) -> dict[str, str]:
    return {} if registration_code is None else {CLIENT_CODE_FILTER: registration_code}


# -- tasks (assumptions 2, 3) ----------------------------------------------------------


def _custom_fields_from_json(items: Any) -> Mapping[int, FieldValue]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise _Shape("custom_fields")
    values: dict[int, FieldValue] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise _Shape("custom_fields")
        values[_int(item, "field_id")] = item.get("value")
    return SharedKeys(values)  # a listing holds thousands with the same fields


def _custom_fields_to_json(values: Mapping[int, FieldValue]) -> list[dict[str, Any]]:
    return [{"field_id": field_id, "value": value} for field_id, value in values.items()]


def _date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(str(value))


def task_from_json(obj: Any) -> Task:
    return _parse(
        "task object",
        obj,
        lambda o: Task(
            id=_int(o, "id"),
            title=str(o["title"]),
            client_id=_opt_int(o, "client_id"),
            topic_id=_opt_int(o, "topic_id"),
            date=_date(o.get("date")),
            status=str(o.get("status") or "new"),
            description=_opt_str(o, "description"),
            custom_fields=_custom_fields_from_json(o.get("custom_fields")),
            created_at=_moment(o.get("created_at")),
        ),
    )


def _moment(value: Any) -> dt.datetime | None:
    """A timestamp with its offset (``Z`` or ``+02:00``); None when missing or unusable
    (a task without it is simply not in any order a listing could rely on)."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def task_draft_to_json(draft: TaskDraft) -> dict[str, Any]:
    return {
        "title": draft.title,
        "client_id": draft.client_id,
        "topic_id": draft.topic_id,
        "date": draft.date.isoformat(),
        "status": draft.status,
        "description": draft.description,
        "custom_fields": _custom_fields_to_json(draft.custom_fields),
    }


def task_changes_to_json(changes: TaskChanges) -> dict[str, Any]:
    date, fields = changes.date, changes.custom_fields
    return _set_only(
        ("title", changes.title),
        ("date", None if date is None else date.isoformat()),
        ("status", changes.status),
        ("description", changes.description),
        ("custom_fields", None if fields is None else _custom_fields_to_json(fields)),
    )


# Assumption 6: tasks carry ``created_at`` and ``sort=-created_at`` lists newest first
# (Uku's CLI sends ``sort``; its values are not published). Checked on every row.
NEWEST_FIRST = "-created_at"


def task_filter(
    client_id: int | None,
    topic_id: int | None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    *,
    q: str | None = None,
    newest_first: bool = False,
) -> dict[str, int | str]:
    """Query parameters for GET /tasks. Uku drops parameters it does not know and answers
    with everything, so these only make a listing smaller or ordered: callers judge every
    task again, and check the order on the rows."""
    return _set_only(
        ("client_id", client_id),
        ("topic_id", topic_id),
        ("date_from", None if date_from is None else date_from.isoformat()),
        ("date_to", None if date_to is None else date_to.isoformat()),
        ("q", q),
        ("sort", NEWEST_FIRST if newest_first else None),
    )


def finish_patch() -> dict[str, Any]:
    """How a task is finished: ``POST /tasks/{id}/complete`` is not deployed in production
    (404), so completion is the status PATCH (evidence: docs/uku-api.md)."""
    return {"status": FINISHED_STATUS}


# -- members, topics, custom fields (assumptions 3, 4) ---------------------------------


def member_from_json(obj: Any) -> Member:
    return _parse(
        "member object",
        obj,
        lambda o: Member(
            id=_int(o, "id"),
            email=str(o["email"]),
            name=str(o.get("name") or ""),
            role=_opt_str(o, "role"),
        ),
    )


def topic_from_json(obj: Any) -> Topic:
    return _parse("topic object", obj, lambda o: Topic(id=_int(o, "id"), name=str(o["name"])))


def custom_field_from_json(obj: Any) -> CustomField:
    return _parse(
        "custom field object",
        obj,
        lambda o: CustomField(
            id=_int(o, "id"),
            name=str(o["name"]),
            type=str(o["type"]),
            entity=str(o.get("entity") or "task"),
        ),
    )


def warnings_from_json(body: Any) -> list[UkuWarning]:
    items = body.get("warnings") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        return []
    return [
        UkuWarning(str(w.get("code", "")), str(w.get("message", "")))
        for w in items
        if isinstance(w, Mapping)
    ]
