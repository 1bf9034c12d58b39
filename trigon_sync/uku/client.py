"""The Uku API client: clients, tasks and their lookups, with Uku's errors typed.

Every request carries ``X-API-Key`` and ``X-Uku-Company`` and goes through the shared
:class:`~trigon_sync.http.session.HttpSession`, whose pacer keeps separate read and write
buckets (Uku's ``X-RateLimit-Tier``). Creates carry an ``Idempotency-Key`` chosen by
the caller, but nothing rests on it: the real Uku ignores the key on most paths and when
its key store is down. A create whose outcome is unknown (lost answer, 5xx, a concurrent
duplicate's 409) is never sent again here; it raises :class:`WriteUnconfirmed` and the
caller reads Uku to find out.

Lists are paged by ``offset`` until ``meta.total`` is reached or a page is empty, as
Uku's own CLI does (``has_more`` is often absent). A listing that does not advance (a
page of ids already read, more pages than ``total`` allows) stops with a service error
instead of looping.

JSON shapes are the adapter's business (uku/adapter.py); this module only knows paths,
paging and error codes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from trigon_sync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    PermissionDenied,
    Problem,
    ServiceUnavailable,
    WriteUnconfirmed,
)
from trigon_sync.http.request_stats import RequestStats
from trigon_sync.http.session import ApiResponse, HttpSession, RetryMode, unexpected
from trigon_sync.http.url_path import api_path
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
MAX_PAGES = 5_000
"""A listing without ``total`` stops with an error past this many pages (1,000,000 rows)."""
CONNECT_UKU_HINT = "run `trigon-sync connect-uku` with a valid API key"
FORBIDDEN_CAUSES = {
    "PLAN_UPGRADE_REQUIRED": (
        "your Uku plan does not include the Public API (Uku sells it with the Elite plan)",
        "upgrade the Uku subscription, then run `trigon-sync connect-uku` again",
    ),
    "SUBSCRIPTION_READ_ONLY": (
        "the Uku subscription is read-only (expired or unpaid), so nothing can be written",
        "renew the subscription in Uku's billing settings, then run again",
    ),
    "FINANCIAL_SCOPE_REQUIRED": (
        "the Uku API key lacks the financial scope this call needs",
        "create an API key with the 'All' scope in Uku and run `trigon-sync connect-uku`",
    ),
}
"""403 codes whose cause is not the key's role (evidence: docs/uku-api.md)."""
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
        self.complete_endpoint = False
        """Finish tasks with ``POST /tasks/{id}/complete`` (set when ``doctor --probe``
        found it served); otherwise with the status PATCH."""

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

    def get_client(self, client_id: int) -> Client | None:
        """One client by id (None when Uku has no such client: deleted, or another
        company's). Read directly, so a client created moments ago is found even while
        Uku's lists lag behind."""
        try:
            body = self._send("GET", f"/clients/{client_id}").body
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return adapter.client_from_json(self._data(body, "client"))

    def list_members(self) -> list[Member]:
        return self._all("/members", {}, adapter.member_from_json)

    def list_topics(self) -> list[Topic]:
        return self._all("/topics", {}, adapter.topic_from_json)

    def list_custom_fields(self, entity: str = "task") -> list[CustomField]:
        return self._all("/custom-fields", {"entity": entity}, adapter.custom_field_from_json)

    def list_tasks(
        self,
        client_id: int | None = None,
        topic_id: int | None = None,
        *,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> list[Task]:
        """Tasks, narrowed by filters Uku may ignore: callers judge every task returned."""
        return self._all(
            "/tasks",
            adapter.task_filter(client_id, topic_id, date_from, date_to),
            adapter.task_from_json,
        )

    def task_pages(
        self,
        *,
        client_id: int | None = None,
        topic_id: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        q: str | None = None,
        newest_first: bool = False,
    ) -> Iterator[list[Task]]:
        """The task listing page by page, as each arrives: the caller keeps what it needs
        and may stop early, so memory does not grow with the company's task count. Every
        parameter may be dropped by Uku: callers judge every task and check the order."""
        params = adapter.task_filter(
            client_id, topic_id, date_from, date_to, q=q, newest_first=newest_first
        )
        return self._pages("/tasks", params, adapter.task_from_json)

    def get_task(self, task_id: int) -> Task | None:
        """One task by id (None when Uku has no such task, e.g. it was deleted)."""
        try:
            body = self._send("GET", api_path("tasks", task_id)).body
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return adapter.task_from_json(self._data(body, "task"))

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
            "PATCH",
            api_path("clients", client_id),
            json_body=adapter.client_changes_to_json(changes),
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
            "PATCH", api_path("tasks", task_id), json_body=adapter.task_changes_to_json(changes)
        ).body
        return adapter.task_from_json(self._data(body, "task"))

    def complete_task(self, task_id: int) -> Task:
        """Mark finished the way Uku means it: ``POST /tasks/{id}/complete`` where a probe
        found it served (it sets ``finished_at`` and runs Uku's automations, portal sync and
        notifications), else the status PATCH, which skips those (deprecated, but the only
        way while ``/complete`` answers 404). Both are safe to repeat."""
        if self.complete_endpoint:
            path = api_path("tasks", task_id) + "/complete"
            body = self._send("POST", path, retry=RetryMode.REPEATABLE).body
        else:
            body = self._send(
                "PATCH", api_path("tasks", task_id), json_body=adapter.finish_patch()
            ).body
        return adapter.task_from_json(self._data(body, "task"))

    def delete_task(self, task_id: int) -> bool:
        """``DELETE /tasks/{id}`` (served in production); False when the task is gone
        already. Only the probe deletes, and only its own throw-away task."""
        try:
            self._send("DELETE", api_path("tasks", task_id))
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
        with_key: bool = True,
    ) -> ApiResponse:
        """One request whose whole answer (status, headers, body) the caller judges: an
        error answer is returned, not raised. For ``doctor --probe``, which measures how
        Uku answers rather than relying on it; ``with_key=False`` sends no credentials
        (the public OpenAPI document)."""
        headers = dict(self._headers) if with_key else {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json_body is not None:
            kwargs["json_body"] = json_body
        return self._session.send(method, path, **kwargs)

    # -- plumbing --------------------------------------------------------------------

    def _all(self, path: str, params: Mapping[str, Any], parse: Callable[[Any], T]) -> list[T]:
        """Every page of a listing (see :meth:`_pages`), in one list."""
        return [obj for page in self._pages(path, params, parse) for obj in page]

    def _pages(
        self, path: str, params: Mapping[str, Any], parse: Callable[[Any], T]
    ) -> Iterator[list[T]]:
        """A listing's pages, by ``offset`` until ``meta.total`` or an empty page.

        ``has_more`` is used only when ``total`` is missing. An object that moved onto the
        next page while listing (a concurrent create) is read once: only the previous
        page's ids are remembered, so a long listing costs no more memory than a page.
        """
        previous: set[Any] = set()
        offset = pages = 0
        while True:
            body = self._send(
                "GET", path, params={**params, "limit": PAGE_LIMIT, "offset": offset}
            ).body
            items = self._items(body)
            pages += 1
            page: list[T] = []
            seen: set[Any] = set()
            for item in items:
                obj = parse(item)
                ident = getattr(obj, "id", None)
                if ident is not None and (ident in previous or ident in seen):
                    continue
                seen.add(ident)
                page.append(obj)
            if not items:
                return
            if not page:
                raise self._stuck(path, f"the page at offset {offset} repeats rows already read")
            yield page
            previous = seen
            offset += len(items)
            meta = body.get("meta") if isinstance(body, Mapping) else None
            meta = meta if isinstance(meta, Mapping) else {}
            total = meta.get("total")
            if isinstance(total, int) and not isinstance(total, bool):
                if offset >= total:
                    return
                if pages > total // PAGE_LIMIT + 1:
                    raise self._stuck(path, f"{pages} pages and still short of total {total}")
            elif meta.get("has_more") is False or len(items) < PAGE_LIMIT:
                return
            elif pages >= MAX_PAGES:
                raise self._stuck(path, f"more than {MAX_PAGES} pages without a total")

    def _stuck(self, path: str, why: str) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"Uku's listing of {path} does not advance: {why}; stopped instead of looping",
            hint="try again later; if it persists, report it to Uku support with the run's log",
        )

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
        retry: RetryMode = RetryMode.AUTO,
    ) -> ApiResponse:
        """One request with the company's headers; Uku's warnings are kept, errors typed."""
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        kwargs: dict[str, Any] = {"params": params, "headers": headers, "retry": retry}
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
        """Uku's error answer as the typed error that names its real cause."""
        code = response.error_code or ""
        details = response.error.get("details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        status = response.status
        if status == 401:
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
        if status == 403:
            return self._forbidden(code, reason, response.error_message)
        if code == "VALIDATION_ERROR" or status == 422:
            return ApiError(
                f"Uku rejected the data: {_validation_text(details, response.error_message)}",
                status=status,
                code=code or None,
                details=details,
            )
        if code == "IDEMPOTENCY_CONFLICT":
            return WriteUnconfirmed(
                "Uku is still handling an earlier attempt of this create "
                "(409 IDEMPOTENCY_CONFLICT); whether it took effect is not known yet"
            )
        if code == "IDEMPOTENCY_KEY_REUSED":
            return ApiError(
                "Uku refused a retried write: its idempotency key was already used "
                "with different data",
                status=status,
                code=code,
                details=details,
            )
        if status == 409 and code.endswith("_LOCKED"):
            return ApiError(
                f"Uku has this record locked ({code}: {response.error_message})",
                status=status,
                code=code,
                details=details,
                hint="unlock it in Uku (or wait for the edit to finish), then run again",
            )
        if status == 412 or code == "STALE_WRITE":
            return ApiError(
                "the record changed in Uku while trigon-sync wrote it (412 STALE_WRITE)",
                status=status,
                code=code or None,
                details=details,
                hint="run again: the next run reads it afresh",
            )
        if status == 428:
            return ApiError(
                "Uku wants a precondition (If-Match) for this write, which trigon-sync "
                f"does not send ({response.error_message})",
                status=status,
                code=code or None,
                details=details,
                hint="this Uku record is guarded; report it to the trigon-sync developers",
            )
        return unexpected("Uku", response)

    def _forbidden(self, code: str, reason: Any, message: str) -> PermissionDenied:
        if code in FORBIDDEN_CAUSES:
            what, hint = FORBIDDEN_CAUSES[code]
            return PermissionDenied(what, hint=hint)
        if reason == "plan":
            return PermissionDenied(
                "your Uku plan has no API access (Uku sells the Public API with the Elite plan)",
                hint="upgrade the Uku subscription, then run `trigon-sync connect-uku` again",
            )
        return PermissionDenied(
            f"the Uku API key may not do this: its scope is read-only or its role too "
            f"narrow ({message})",
            hint="create an API key with the 'Edit' or 'All' scope as a Company Admin "
            "and run `trigon-sync connect-uku`",
        )


def _validation_text(details: Any, fallback: str) -> str:
    """Uku's validation details, either ``{"fields": {name: why}}`` or a list of
    ``{field, message, type}`` (the real API), as one line."""
    if isinstance(details, Mapping) and isinstance(details.get("fields"), Mapping):
        return "; ".join(f"{k} {v}" for k, v in details["fields"].items())
    if isinstance(details, list):
        parts = [
            f"{d.get('field', '?')} {d.get('message', '')}".strip()
            for d in details
            if isinstance(d, Mapping)
        ]
        if parts:
            return "; ".join(parts)
    return fallback
