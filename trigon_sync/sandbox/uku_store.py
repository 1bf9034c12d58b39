"""The Uku side of a sandbox world: one company's clients, tasks, fields, and idempotency keys.

Objects are kept in the wire shapes of docs/uku-api.md ("Assumptions"), so what the app
returns and what ``/_sandbox/state`` shows is exactly what is stored. Bodies are validated
strictly (unknown fields are refused) so a client that writes the wrong shape fails loudly
here instead of silently in production. Callers hold the world's lock.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trigon_sync.sandbox.problems import ApiProblem, validation_error
from trigon_sync.sandbox.seed import UKU_PLANS_WITH_API, UKU_TASK_STATUSES, UkuSeed
from trigon_sync.sandbox.unrelated_tasks import FIRST_ID, UnrelatedTasks

IDEMPOTENCY_TTL = 24 * 3600
MAX_KEY_LENGTH = 255
CLIENT_FIELDS = ("name", "registration_code", "vat_number", "country", "manager_id")
TASK_FIELDS = (
    "title",
    "client_id",
    "topic_id",
    "date",
    "status",
    "description",
    "custom_fields",
)


@dataclass
class StoredResponse:
    """The first answer to an Idempotency-Key, replayed for the same request."""

    fingerprint: str
    status: int
    body: dict[str, Any]
    stored_at: float


def fingerprint(method: str, path: str, body: Any) -> str:
    """Same method, path and JSON body (key order ignored) -> same fingerprint."""
    return json.dumps([method.upper(), path, body], sort_keys=True, ensure_ascii=False)


class UkuStore:
    """Clients, tasks, members, topics and custom fields of the one sandbox company."""

    def __init__(self, seed: UkuSeed) -> None:
        self.company = seed.company
        self.api_key = seed.api_key
        self.plan = seed.plan
        self.api_key_role = seed.api_key_role
        self.complete_endpoint = seed.complete_endpoint
        self.clients: dict[int, dict[str, Any]] = {c["id"]: dict(c) for c in seed.clients}
        self.tasks: dict[int, dict[str, Any]] = {t["id"]: copy.deepcopy(t) for t in seed.tasks}
        self.members = [dict(m) for m in seed.members]
        self.topics = [dict(t) for t in seed.topics]
        self.custom_fields = [dict(f) for f in seed.custom_fields]
        self._next_client = max(self.clients, default=1000) + 1
        self.unrelated = seed.unrelated_tasks or UnrelatedTasks(0)
        """The company's other work, made up on demand (never in ``tasks``)."""
        last_unrelated = self.unrelated.last_id if self.unrelated.count else 0
        self._next_task = max(*self.tasks, 5000, last_unrelated) + 1
        self.idempotency: dict[str, StoredResponse] = {}

    # -- auth ---------------------------------------------------------------------------

    def authorize(self, api_key: str | None, company: str | None, *, write: bool) -> None:
        """Apply the contract's header checks in order: key, company, plan, role."""
        if not api_key or not secrets.compare_digest(api_key, self.api_key):
            raise ApiProblem(401, "UNAUTHORIZED", "missing or invalid X-API-Key")
        if not company:
            raise ApiProblem(400, "MISSING_COMPANY", "the X-Uku-Company header is required")
        if company != self.company:
            raise ApiProblem(400, "INVALID_COMPANY", "this API key does not belong to that company")
        if self.plan not in UKU_PLANS_WITH_API:
            raise ApiProblem(
                403, "FORBIDDEN", "this subscription has no API access", {"reason": "plan"}
            )
        if write and self.api_key_role == "member":
            raise ApiProblem(
                403, "FORBIDDEN", "this API key's role may not write", {"reason": "role"}
            )

    # -- idempotency --------------------------------------------------------------------

    def replay(self, key: str, print_: str, now: float) -> StoredResponse | None:
        """The stored answer for ``key`` (None if new); 409 if it was used for another body."""
        if len(key) > MAX_KEY_LENGTH:
            raise validation_error(
                {"Idempotency-Key": f"must be at most {MAX_KEY_LENGTH} characters"}
            )
        stored = self.idempotency.get(key)
        if stored is None or now - stored.stored_at > IDEMPOTENCY_TTL:
            return None
        if stored.fingerprint != print_:
            raise ApiProblem(
                409,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with a different request",
                {"idempotency_key": key},
            )
        return stored

    def remember(
        self, key: str, print_: str, status: int, body: dict[str, Any], now: float
    ) -> None:
        """Keep a successful answer for 24 h; errors are not remembered (fix and retry)."""
        if 200 <= status < 300:
            self.idempotency[key] = StoredResponse(print_, status, copy.deepcopy(body), now)

    # -- clients ------------------------------------------------------------------------

    def list_clients(
        self, registration_code: str | None = None, q: str | None = None
    ) -> list[dict[str, Any]]:
        rows = sorted(self.clients.values(), key=lambda c: c["id"])
        if registration_code is not None:
            rows = [c for c in rows if c["registration_code"] == registration_code]
        if q:
            needle = q.casefold()
            rows = [c for c in rows if needle in c["name"].casefold()]
        return [dict(c) for c in rows]

    def create_client(self, body: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
        changes = self._client_changes(body, creating=True)
        client = {
            "id": self._next_client,
            "name": changes["name"],
            "registration_code": changes.get("registration_code"),
            "vat_number": changes.get("vat_number"),
            "country": changes.get("country", "EE"),
            "manager_id": changes.get("manager_id"),
        }
        warnings = self._duplicate_warning(client)
        self._next_client += 1
        self.clients[client["id"]] = client
        return dict(client), warnings

    def update_client(self, client_id: int, body: Any) -> dict[str, Any]:
        client = self.clients.get(client_id)
        if client is None:
            raise ApiProblem(404, "NOT_FOUND", f"client {client_id} not found")
        client.update(self._client_changes(body, creating=False))
        return dict(client)

    def _duplicate_warning(self, client: Mapping[str, Any]) -> list[dict[str, str]]:
        code = client.get("registration_code")
        if code and any(c["registration_code"] == code for c in self.clients.values()):
            return [
                {
                    "code": "DUPLICATE_REGISTRATION_CODE",
                    "message": f"another client already has registration code {code}",
                }
            ]
        return []

    def _client_changes(self, body: Any, *, creating: bool) -> dict[str, Any]:
        obj = _object(body)
        problems = _unknown(obj, CLIENT_FIELDS)
        if creating and "name" not in obj:
            problems["name"] = "is required"
        if "name" in obj and (not isinstance(obj["name"], str) or not obj["name"].strip()):
            problems["name"] = "must be a non-empty string"
        for key in ("registration_code", "vat_number"):
            if key in obj and obj[key] is not None and not isinstance(obj[key], str):
                problems[key] = "must be a string or null"
        if "country" in obj and not (isinstance(obj["country"], str) and len(obj["country"]) == 2):
            problems["country"] = "must be a two-letter country code"
        if "manager_id" in obj and obj["manager_id"] is not None:
            if not _is_int(obj["manager_id"]):
                problems["manager_id"] = "must be an integer or null"
            elif obj["manager_id"] not in {m["id"] for m in self.members}:
                problems["manager_id"] = "is not a member of this company"
        if problems:
            raise validation_error(problems)
        return dict(obj)

    # -- tasks --------------------------------------------------------------------------

    def list_tasks(
        self,
        client_id: int | None = None,
        topic_id: int | None = None,
        status: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[dict[str, Any]]:
        out = []
        for task in sorted(self.tasks.values(), key=lambda t: t["id"]):
            if client_id is not None and task["client_id"] != client_id:
                continue
            if topic_id is not None and task["topic_id"] != topic_id:
                continue
            if status is not None and task["status"] != status:
                continue
            day = dt.date.fromisoformat(task["date"]) if task["date"] else None
            if (date_from or date_to) and day is None:
                continue
            if day is not None and ((date_from and day < date_from) or (date_to and day > date_to)):
                continue
            out.append(copy.deepcopy(task))
        return out

    def page_tasks(
        self,
        *,
        visible: Callable[[dict[str, Any]], bool],
        by_created: bool,
        newest_first: bool,
        limit: int,
        offset: int,
        q: str | None = None,
        **filters: Any,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the task listing and the listing's total: stored tasks (those
        ``visible`` yet) and the unrelated ones, filtered, in id order or by ``created_at``
        (oldest or ``newest_first``). The unrelated tasks are never all made: only the page's."""
        stored = [
            t
            for t in self.list_tasks(**filters)
            if visible(t) and (not q or _has_text(t, q.casefold()))
        ]
        chosen = self.unrelated.select(q=q, **filters)
        if by_created:
            stored.sort(key=_created_key)
            key: Callable[[int], Any] = lambda i: (self.unrelated.created(i), FIRST_ID + i)  # noqa: E731
            places = [bisect.bisect_left(chosen, _created_key(t), key=key) for t in stored]
        else:
            places = [bisect.bisect_left(chosen, t["id"] - FIRST_ID) for t in stored]
        total = len(stored) + len(chosen)
        start, stop = offset, min(total, offset + limit)
        if newest_first:  # the same order read from its end
            start, stop = max(0, total - offset - limit), max(0, total - offset)
        page = _merged(stored, places, chosen, start, stop, self.unrelated.row)
        return (page[::-1] if newest_first else page), total

    def task_row(self, task_id: int) -> dict[str, Any]:
        """A task as ``GET /tasks/{id}`` shows it, an unrelated one included."""
        index = self.unrelated.index_of(task_id)
        return self.unrelated.row(index) if index is not None else dict(self.task(task_id))

    def create_task(self, body: Any, created_at: str | None = None) -> dict[str, Any]:
        changes = self._task_changes(body, creating=True)
        task = {
            "id": self._next_task,
            "title": changes["title"],
            "client_id": changes.get("client_id"),
            "topic_id": changes.get("topic_id"),
            "date": changes.get("date"),
            "status": changes.get("status", "new"),
            "description": changes.get("description"),
            "custom_fields": changes.get("custom_fields", []),
        }
        if created_at is not None:
            task["created_at"] = created_at
        self._next_task += 1
        self.tasks[task["id"]] = task
        return copy.deepcopy(task)

    def update_task(self, task_id: int, body: Any) -> dict[str, Any]:
        task = self.task(task_id)
        changes = self._task_changes(body, creating=False)
        values = changes.pop("custom_fields", None)
        task.update(changes)
        if values is not None:
            merged = {cf["field_id"]: cf for cf in task["custom_fields"]}
            merged.update({cf["field_id"]: cf for cf in values})
            task["custom_fields"] = sorted(merged.values(), key=lambda cf: cf["field_id"])
        return copy.deepcopy(task)

    def complete_task(self, task_id: int) -> dict[str, Any]:
        task = self.task(task_id)
        if not self.complete_endpoint:
            raise ApiProblem(404, "NOT_FOUND", "not found")
        task["status"] = "finished"
        return copy.deepcopy(task)

    def delete_task(self, task_id: int) -> None:
        """Deleting a task: ``DELETE /tasks/{id}`` or a person in Uku's web app."""
        self.task(task_id)
        del self.tasks[task_id]

    def move_task(self, task_id: int, client_id: int) -> dict[str, Any]:
        """A person moving a task onto another client in Uku's web app."""
        task = self.task(task_id)
        if client_id not in self.clients:
            raise ApiProblem(404, "NOT_FOUND", f"client {client_id} not found")
        task["client_id"] = client_id
        return copy.deepcopy(task)

    def task(self, task_id: int) -> dict[str, Any]:
        task = self.tasks.get(task_id)
        if task is None:
            raise ApiProblem(404, "NOT_FOUND", f"task {task_id} not found")
        return task

    def _task_changes(self, body: Any, *, creating: bool) -> dict[str, Any]:
        obj = _object(body)
        problems = _unknown(obj, TASK_FIELDS)
        if creating and "title" not in obj:
            problems["title"] = "is required"  # a task may belong to no client (Uku's CLI)
        if "title" in obj and (not isinstance(obj["title"], str) or not obj["title"].strip()):
            problems["title"] = "must be a non-empty string"
        if obj.get("client_id") is not None and (
            not _is_int(obj["client_id"]) or obj["client_id"] not in self.clients
        ):
            problems["client_id"] = "is not a client of this company"
        topic_ids = {t["id"] for t in self.topics}
        if obj.get("topic_id") is not None and (
            not _is_int(obj["topic_id"]) or obj["topic_id"] not in topic_ids
        ):
            problems["topic_id"] = "is not a topic of this company"
        if obj.get("date") is not None and not _is_iso_date(obj["date"]):
            problems["date"] = "must be a date YYYY-MM-DD"
        if "status" in obj and obj["status"] not in UKU_TASK_STATUSES:
            problems["status"] = f"must be one of {', '.join(UKU_TASK_STATUSES)}"
        if (
            "description" in obj
            and obj["description"] is not None
            and not isinstance(obj["description"], str)
        ):
            problems["description"] = "must be a string or null"
        if "custom_fields" in obj:
            values, problem = self._field_values(obj["custom_fields"])
            if problem:
                problems["custom_fields"] = problem
            else:
                obj = {**obj, "custom_fields": values}
        if problems:
            raise validation_error(problems)
        return dict(obj)

    def _field_values(self, raw: Any) -> tuple[list[dict[str, Any]], str | None]:
        if not isinstance(raw, list):
            return [], "must be a list of {field_id, value}"
        fields = {f["id"]: f for f in self.custom_fields if f["entity"] == "task"}
        seen: set[int] = set()
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or set(item) != {"field_id", "value"}:
                return [], f"[{i}] must be exactly {{field_id, value}}"
            fid, value = item["field_id"], item["value"]
            field_def = fields.get(fid) if _is_int(fid) else None
            if field_def is None:
                return [], f"[{i}].field_id {fid!r} is not a task custom field"
            if fid in seen:
                return [], f"[{i}].field_id {fid} appears twice"
            seen.add(fid)
            if value is not None and not _fits(field_def["type"], value):
                return [], f"[{i}].value does not fit a {field_def['type']} field"
            out.append({"field_id": fid, "value": value})
        return sorted(out, key=lambda cf: cf["field_id"]), None

    # -- inspection ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "clients": self.list_clients(),
            "tasks": self.list_tasks(),
        }


def _created_key(task: Mapping[str, Any]) -> tuple[int, int]:
    """Creation order: ``created_at`` (epoch seconds; none is the oldest), then id."""
    stamp = task.get("created_at")
    if not stamp:
        return (0, task["id"])
    moment = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return (int(moment.timestamp()), task["id"])


def _has_text(task: Mapping[str, Any], needle: str) -> bool:
    """Whether ``q`` finds the task: in its title or description, ignoring case."""
    return any(needle in str(task.get(k) or "").casefold() for k in ("title", "description"))


def _merged(
    stored: Sequence[dict[str, Any]],
    places: Sequence[int],
    chosen: Sequence[int],
    start: int,
    stop: int,
    row: Callable[[int], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Positions ``start``..``stop`` of ``stored`` merged into ``chosen`` (each stored
    task goes before the ``places[j]``-th unrelated one), both ascending."""
    positions = [place + j for j, place in enumerate(places)]
    j = bisect.bisect_left(positions, start)
    unrelated = start - j
    out = []
    for position in range(start, stop):
        if j < len(stored) and positions[j] == position:
            out.append(copy.deepcopy(stored[j]))
            j += 1
        else:
            out.append(row(chosen[unrelated]))
            unrelated += 1
    return out


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error({"body": "must be a JSON object"})
    return body


def _unknown(obj: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    return {key: "is not a known field" for key in obj if key not in allowed}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _fits(field_type: str, value: Any) -> bool:
    if field_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if field_type == "date":
        return _is_iso_date(value)
    return isinstance(value, str)
