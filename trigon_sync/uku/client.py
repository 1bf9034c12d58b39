"""The Uku API client: clients, tasks and their lookups, with Uku's errors typed.

Every request carries ``X-API-Key`` and ``X-Uku-Company`` and goes through the shared
:class:`~trigon_sync.http.HttpSession`, whose pacer keeps separate read and write
buckets (Uku's ``X-RateLimit-Tier``). Creates carry an ``Idempotency-Key`` chosen by
the caller, so a retried POST after a lost answer cannot create a second object.
JSON shapes are the adapter's business (uku/adapter.py); this module only knows paths,
paging and error codes.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from trigon_sync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    PermissionDenied,
    Problem,
)
from trigon_sync.http import ApiResponse, HttpSession, RequestStats, unexpected
from trigon_sync.uku import adapter
from trigon_sync.uku.models import (
    Client,
    ClientChanges,
    ClientDraft,
    CustomField,
    Member,
    Task,
    TaskChanges,
    TaskDraft,
    Topic,
    UkuWarning,
)

PAGE_LIMIT = 200
CONNECT_UKU_HINT = "run `trigon-sync connect-uku` with a valid API key"
T = TypeVar("T")


def uku_tier(method: str) -> str:
    """Uku's bucket for a method: GETs read, everything else writes."""
    return "read" if method.upper() in {"GET", "HEAD"} else "write"


class UkuClient:
    """Reads and writes the Uku objects trigon-sync manages."""

    def __init__(self, session: HttpSession, *, api_key: str, company: str) -> None:
        self._session = session
        self._headers = {"X-API-Key": api_key, "X-Uku-Company": company}
        self.company = company
        self._warnings_lock = threading.Lock()
        self.warnings: list[UkuWarning] = []

    def __repr__(self) -> str:
        return f"UkuClient({self._session.base_url!r}, company={self.company!r})"

    @property
    def base_url(self) -> str:
        return self._session.base_url

    @property
    def stats(self) -> RequestStats:
        """Requests sent so far, per method (for benchmarks and run summaries)."""
        return self._session.stats

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> UkuClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------

    def check(self) -> int:
        """A cheap authenticated call; returns how many members the company has."""
        body = self._send("GET", "/members", params={"limit": 1, "offset": 0}).body
        meta = body.get("meta") if isinstance(body, Mapping) else None
        total = meta.get("total") if isinstance(meta, Mapping) else None
        return total if isinstance(total, int) else len(self._items(body))

    def list_clients(self, registration_code: str | None = None) -> list[Client]:
        return self._all(
            "/clients", adapter.client_filter(registration_code), adapter.client_from_json
        )

    def list_members(self) -> list[Member]:
        return self._all("/members", {}, adapter.member_from_json)

    def list_topics(self) -> list[Topic]:
        return self._all("/topics", {}, adapter.topic_from_json)

    def list_custom_fields(self, entity: str = "task") -> list[CustomField]:
        return self._all("/custom-fields", {"entity": entity}, adapter.custom_field_from_json)

    def list_tasks(self, client_id: int | None = None, topic_id: int | None = None) -> list[Task]:
        return self._all("/tasks", adapter.task_filter(client_id, topic_id), adapter.task_from_json)

    # -- writes ----------------------------------------------------------------------

    def create_client(self, draft: ClientDraft, idempotency_key: str) -> Client:
        body = self._send(
            "POST",
            "/clients",
            json_body=adapter.client_draft_to_json(draft),
            idempotency_key=idempotency_key,
        ).body
        return adapter.client_from_json(self._data(body, "client"))

    def update_client(self, client_id: int, changes: ClientChanges) -> Client:
        body = self._send(
            "PATCH", f"/clients/{client_id}", json_body=adapter.client_changes_to_json(changes)
        ).body
        return adapter.client_from_json(self._data(body, "client"))

    def create_task(self, draft: TaskDraft, idempotency_key: str) -> Task:
        response = self._send(
            "POST",
            "/tasks",
            json_body=adapter.task_draft_to_json(draft),
            idempotency_key=idempotency_key,
        )
        task = adapter.task_from_json(self._data(response.body, "task"))
        if response.headers.get("Idempotency-Replayed", "").lower() == "true":
            return dataclasses.replace(task, replayed=True)
        return task

    def update_task(self, task_id: int, changes: TaskChanges) -> Task:
        body = self._send(
            "PATCH", f"/tasks/{task_id}", json_body=adapter.task_changes_to_json(changes)
        ).body
        return adapter.task_from_json(self._data(body, "task"))

    def complete_task(self, task_id: int) -> Task:
        """Mark finished; older deployments lack /complete, so a 404 falls back to PATCH."""
        try:
            body = self._send(
                "POST",
                f"/tasks/{task_id}/complete",
                json_body={},
                idempotency_key=f"trigon-sync-complete-task-{task_id}",
            ).body
        except ApiError as exc:
            if exc.status != 404:
                raise
            body = self._send("PATCH", f"/tasks/{task_id}", json_body=adapter.finish_patch()).body
        return adapter.task_from_json(self._data(body, "task"))

    # -- plumbing --------------------------------------------------------------------

    def _all(self, path: str, params: Mapping[str, Any], parse: Callable[[Any], T]) -> list[T]:
        results: list[T] = []
        offset = 0
        while True:
            body = self._send(
                "GET", path, params={**params, "limit": PAGE_LIMIT, "offset": offset}
            ).body
            items = self._items(body)
            results.extend(parse(item) for item in items)
            meta = body.get("meta") if isinstance(body, Mapping) else None
            has_more = isinstance(meta, Mapping) and bool(meta.get("has_more"))
            if not items or not has_more:
                return results
            offset += len(items)

    def _items(self, body: Any) -> list[Any]:
        data = self._data(body, "list")
        if not isinstance(data, list):
            raise adapter.unexpected_object("list", body)
        return data

    def _data(self, body: Any, what: str) -> Any:
        if not isinstance(body, Mapping) or "data" not in body:
            raise adapter.unexpected_object(what, body)
        return body["data"]

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
    ) -> ApiResponse:
        """One request with the company's headers; Uku's warnings are kept, errors typed."""
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json_body is not None:
            kwargs["json_body"] = json_body
        response = self._session.send(method, path, **kwargs)
        if not response.ok:
            raise self._error(response)
        found = adapter.warnings_from_json(response.body)
        if found:
            with self._warnings_lock:
                self.warnings.extend(found)
        return response

    def _error(self, response: ApiResponse) -> Exception:
        code = response.error_code
        details = response.error.get("details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        if response.status == 401:
            return AuthError("Uku refused the API key", hint=CONNECT_UKU_HINT)
        if code == "MISSING_COMPANY":
            return ConfigError(
                [Problem("config.toml", "uku.company", "is missing: Uku needs the company id")],
                hint="run `trigon-sync connect-uku --company <uuid>`",
            )
        if code == "INVALID_COMPANY":
            return AuthError(
                f"the Uku API key does not belong to company {self.company}",
                hint="check uku.company in config.toml, or run `trigon-sync connect-uku` "
                "with the key and company that belong together",
            )
        if response.status == 403 and reason == "plan":
            return PermissionDenied(
                "your Uku plan has no API access: Team or Elite is needed",
                hint="upgrade the Uku subscription, then run `trigon-sync connect-uku` again",
            )
        if response.status == 403:
            return PermissionDenied(
                f"the Uku API key's role may not do this ({response.error_message})",
                hint="use an API key of a Company Admin or Company Owner",
            )
        if code == "VALIDATION_ERROR":
            fields = details.get("fields") if isinstance(details, Mapping) else None
            listed = (
                "; ".join(f"{k} {v}" for k, v in fields.items())
                if isinstance(fields, Mapping)
                else response.error_message
            )
            return ApiError(
                f"Uku rejected the data: {listed}",
                status=response.status,
                code=code,
                details=details,
            )
        if code == "IDEMPOTENCY_KEY_REUSED":
            return ApiError(
                "Uku refused a retried write: its idempotency key was already used "
                "with different data",
                status=response.status,
                code=code,
                details=details,
                hint="this is a bug in trigon-sync; please report it with the run's log",
            )
        return unexpected("Uku", response)
