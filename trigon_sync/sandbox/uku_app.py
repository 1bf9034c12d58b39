"""The sandbox Uku API: docs/uku-api.md served from a :class:`SandboxWorld`.

Routes live under ``/api/v3``; ``/_sandbox/`` holds the admin endpoints (docs/sandbox.md).
Every POST/PATCH that passes authentication is recorded in ``world.writes()`` with its
body, Idempotency-Key, status, whether it was a replay, and the object it produced.

``behaviour`` (behaviour.py) makes the app differ from the contract the way the real Uku
does: no ``has_more``, HTML descriptions, ignored Idempotency-Keys and filters, lists that
lag behind writes, integer fields, no ``/complete``, the real error codes.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trigon_sync.sandbox import admin
from trigon_sync.sandbox.behaviour import CONTRACT, UkuBehaviour
from trigon_sync.sandbox.faults import WRITE_METHODS, Clock, FaultConfig
from trigon_sync.sandbox.pipeline import make_app, request_state
from trigon_sync.sandbox.problems import ApiProblem, validation_error
from trigon_sync.sandbox.seed import UKU_ENTITIES, UKU_TASK_STATUSES
from trigon_sync.sandbox.server_state import Bucket, ServerState, make_state
from trigon_sync.sandbox.uku_openapi import openapi_document
from trigon_sync.sandbox.uku_store import fingerprint
from trigon_sync.sandbox.world import SandboxWorld

BASE = "/api/v3"
MAX_LIMIT = 200
ERROR_CODES = {500: "INTERNAL_ERROR", 502: "INTERNAL_ERROR", 503: "INTERNAL_ERROR"}
TASK_SORTS = ("created_at", "-created_at")
"""The task listing's orders (docs/uku-api.md): oldest or newest first by ``created_at``."""

Action = Callable[[Any], tuple[int, dict[str, Any]]]


def make_uku_app(
    world: SandboxWorld,
    faults: FaultConfig | None = None,
    clock: Clock | None = None,
    behaviour: UkuBehaviour = CONTRACT,
) -> Starlette:
    """A Starlette app serving the Uku contract (bent by ``behaviour``);
    ``app.state.sandbox`` is its ServerState."""

    def bucket(method: str, headers: Headers) -> Bucket:
        tier = "write" if method.upper() in WRITE_METHODS else "read"
        limit = server.config.uku_write_limit if tier == "write" else server.config.uku_read_limit
        return f"{tier}:{headers.get('x-api-key') or 'anonymous'}", limit, tier

    server = make_state("uku", world, faults, clock, bucket, ERROR_CODES, behaviour)
    api = _UkuApi(server)
    routes = [
        Route("/clients", api.list_clients, methods=["GET"]),
        Route("/clients", api.create_client, methods=["POST"]),
        Route("/clients/{id:int}", api.update_client, methods=["PATCH"]),
        Route("/members", api.members, methods=["GET"]),
        Route("/topics", api.topics, methods=["GET"]),
        Route("/custom-fields", api.custom_fields, methods=["GET"]),
        Route("/tasks", api.list_tasks, methods=["GET"]),
        Route("/tasks", api.create_task, methods=["POST"]),
        Route("/clients/{id:int}", api.get_client, methods=["GET"]),
        Route("/tasks/{id:int}", api.get_task, methods=["GET"]),
        Route("/tasks/{id:int}", api.update_task, methods=["PATCH"]),
        Route("/tasks/{id:int}", api.delete_task, methods=["DELETE"]),
        Route("/tasks/{id:int}/complete", api.complete_task, methods=["POST"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
    ]
    return make_app(server, BASE, routes, admin.uku_admin(server))


class _UkuApi:
    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.world = server.world
        self.store = server.world.uku
        self.born: dict[tuple[str, int], float] = {}
        """(kind, id) -> server time of creation, for ``list_lag_seconds``."""

    @property
    def quirks(self) -> UkuBehaviour:
        return self.server.behaviour

    def _settled(self, kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows a lagging list already shows: those created at least the lag ago."""
        return [r for r in rows if self._shows(kind, r)]

    def _shows(self, kind: str, row: dict[str, Any]) -> bool:
        """Whether a lagging list already shows ``row`` (created at least the lag ago)."""
        lag = self.quirks.list_lag_seconds
        if not lag:
            return True
        return self.server.clock() - self.born.get((kind, row["id"]), -1e18) >= lag

    def _filter(self, request: Request, name: str) -> str | None:
        """A documented-by-us filter, or None when the real Uku would drop it."""
        return None if self.quirks.drop_unknown_filters else request.query_params.get(name)

    def _list(self, rows: Sequence[dict[str, Any]], limit: int, offset: int) -> JSONResponse:
        return _list(
            rows,
            limit,
            0 if self.quirks.ignore_offset else offset,
            has_more=not self.quirks.no_has_more,
        )

    def _auth(self, request: Request, *, write: bool = False) -> None:
        self.store.authorize(
            request.headers.get("x-api-key"), request.headers.get("x-uku-company"), write=write
        )

    # -- reads --------------------------------------------------------------------------

    async def list_clients(self, request: Request) -> Response:
        with self.world.lock:
            self._auth(request)
            limit, offset = _paging(request)
            rows = self.store.list_clients(
                registration_code=self._filter(request, "registration_code"),
                q=self._filter(request, "q"),
            )
            rows = self._settled("client", rows)
        return self._list(rows, limit, offset)

    async def get_client(self, request: Request) -> Response:
        cid = request.path_params["id"]
        with self.world.lock:
            self._auth(request)
            client = self.store.clients.get(cid)
            if client is None:
                raise ApiProblem(404, "NOT_FOUND", f"client {cid} not found")
            return JSONResponse({"data": dict(client)})

    async def get_task(self, request: Request) -> Response:
        tid = request.path_params["id"]
        with self.world.lock:
            self._auth(request)
            return JSONResponse({"data": self.store.task_row(tid)})

    async def members(self, request: Request) -> Response:
        with self.world.lock:
            self._auth(request)
            limit, offset = _paging(request)
            rows = [dict(m) for m in self.store.members]
        return self._list(rows, limit, offset)

    async def topics(self, request: Request) -> Response:
        with self.world.lock:
            self._auth(request)
            limit, offset = _paging(request)
            rows = [dict(t) for t in self.store.topics]
        return self._list(rows, limit, offset)

    async def custom_fields(self, request: Request) -> Response:
        with self.world.lock:
            self._auth(request)
            limit, offset = _paging(request)
            entity = request.query_params.get("entity")
            if entity is not None and entity not in UKU_ENTITIES:
                raise validation_error({"entity": f"must be one of {', '.join(UKU_ENTITIES)}"})
            rows = [dict(f) for f in self.store.custom_fields if entity in (None, f["entity"])]
            if self.quirks.integer_fields:
                for row in rows[::2]:
                    if row["type"] == "number":
                        row["type"] = "integer"
        return self._list(rows, limit, offset)

    async def list_tasks(self, request: Request) -> Response:
        q = request.query_params
        with self.world.lock:
            self._auth(request)
            limit, offset = _paging(request)
            status = q.get("status")
            if status is not None and status not in UKU_TASK_STATUSES:
                raise validation_error({"status": f"must be one of {', '.join(UKU_TASK_STATUSES)}"})
            sort = None if self.quirks.drop_sort else q.get("sort")
            if sort is not None and sort not in TASK_SORTS:
                raise validation_error({"sort": f"must be one of {', '.join(TASK_SORTS)}"})
            keep = not self.quirks.drop_unknown_filters
            dates = not self.quirks.drop_date_filters
            page, total = self.store.page_tasks(
                visible=lambda row: self._shows("task", row),
                by_created=sort is not None,
                newest_first=sort == "-created_at",
                limit=limit,
                offset=0 if self.quirks.ignore_offset else offset,
                q=q.get("q") if keep else None,
                client_id=_opt_int(request, "client_id") if keep else None,
                topic_id=_opt_int(request, "topic_id") if keep else None,
                status=status if keep else None,
                date_from=_opt_date(request, "date_from") if dates else None,
                date_to=_opt_date(request, "date_to") if dates else None,
            )
        return _page(page, total, limit, offset, has_more=not self.quirks.no_has_more)

    # -- writes -------------------------------------------------------------------------

    async def _write(self, request: Request, action: Action) -> Response:
        """Auth, idempotency replay/409, the action, and the write log — in one place."""
        raw = await request.body()
        with self.world.lock:
            self._auth(request, write=True)
            try:
                body: Any = json.loads(raw) if raw else None
                parse_problem = None
            except (ValueError, UnicodeDecodeError):
                body, parse_problem = (
                    raw.decode("utf-8", "replace"),
                    validation_error({"body": "is not valid JSON"}),
                )
            key = request.headers.get("idempotency-key")
            entry = {
                "method": request.method,
                "path": request.url.path,
                "body": body,
                "idempotency_key": key,
                "status": None,
                "replayed": False,
                "object": None,
                "client_status": None,
                "after_fault": None,
            }
            request_state(request)["sandbox_write"] = self.world.log_write(entry)
            headers: dict[str, str] = {}
            try:
                if parse_problem:
                    raise parse_problem
                idem_key = key if request.method == "POST" else None
                if self.quirks.ignore_idempotency and request.url.path.endswith(
                    ("/clients", "/tasks")
                ):
                    idem_key = None  # the real Uku covers only a few resources
                print_ = fingerprint(request.method, request.url.path, body)
                stored = (
                    self.store.replay(idem_key, print_, self.server.clock())
                    if idem_key is not None
                    else None
                )
                if stored is not None:
                    status, payload = stored.status, stored.body
                    entry["replayed"] = True
                    headers["Idempotency-Replayed"] = "true"
                else:
                    status, payload = action(body)
                    if idem_key is not None:
                        self.store.remember(idem_key, print_, status, payload, self.server.clock())
            except ApiProblem as problem:
                problem = self._real_problem(problem)
                entry["status"] = problem.status
                entry["error"] = problem.code
                raise problem from None
            entry["status"] = status
            entry["object"] = payload.get("data")
        return JSONResponse(payload, status_code=status, headers=headers)

    def _real_problem(self, problem: ApiProblem) -> ApiProblem:
        """The real Uku's shape of a validation error: 422, details a list."""
        fields = problem.details.get("fields") if isinstance(problem.details, dict) else None
        if not self.quirks.real_error_codes or problem.code != "VALIDATION_ERROR" or not fields:
            return problem
        details = [{"field": k, "message": v, "type": "invalid"} for k, v in fields.items()]
        return ApiProblem(422, "VALIDATION_ERROR", problem.message, details)

    def _born_now(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.born[(kind, obj["id"])] = self.server.clock()
        return obj

    def _drop_unkept(self, task: dict[str, Any]) -> dict[str, Any]:
        """Forget the values of the fields ``unkept_field_ids`` names (a fault)."""
        unkept = set(self.quirks.unkept_field_ids)
        if not unkept:
            return task
        kept = [cf for cf in task.get("custom_fields") or [] if cf["field_id"] not in unkept]
        self.store.tasks[task["id"]]["custom_fields"] = kept
        return {**task, "custom_fields": kept}

    def _rich_text(self, task: dict[str, Any]) -> dict[str, Any]:
        """Store the description as the HTML a rich-text editor would make of it."""
        text = task.get("description")
        if self.quirks.html_descriptions and isinstance(text, str) and not text.startswith("<"):
            rendered = "".join(
                "<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>"
                for p in text.split("\n\n")
            )
            self.store.tasks[task["id"]]["description"] = rendered
            task = {**task, "description": rendered}
        return task

    async def create_client(self, request: Request) -> Response:
        def action(body: Any) -> tuple[int, dict[str, Any]]:
            client, warnings = self.store.create_client(body)
            self._born_now("client", client)
            payload: dict[str, Any] = {"data": client}
            if warnings:
                payload["warnings"] = warnings
            return 201, payload

        return await self._write(request, action)

    async def update_client(self, request: Request) -> Response:
        cid = request.path_params["id"]
        return await self._write(
            request, lambda body: (200, {"data": self.store.update_client(cid, body)})
        )

    async def create_task(self, request: Request) -> Response:
        def action(body: Any) -> tuple[int, dict[str, Any]]:
            created = self.server.wall_now().isoformat(timespec="seconds").replace("+00:00", "Z")
            task = self._born_now("task", self.store.create_task(body, created))
            return 201, {"data": self._rich_text(self._drop_unkept(task))}

        return await self._write(request, action)

    async def update_task(self, request: Request) -> Response:
        tid = request.path_params["id"]

        def action(body: Any) -> tuple[int, dict[str, Any]]:
            task = self._drop_unkept(self.store.update_task(tid, body))
            return 200, {"data": self._rich_text(task)}

        return await self._write(request, action)

    async def delete_task(self, request: Request) -> Response:
        """``DELETE /tasks/{id}``: served in production (Uku's CLI notes); 404 when gone."""
        tid = request.path_params["id"]

        def action(body: Any) -> tuple[int, dict[str, Any]]:
            task = dict(self.store.task(tid))
            self.store.delete_task(tid)
            return 200, {"data": task}

        return await self._write(request, action)

    async def openapi(self, request: Request) -> Response:
        """The public OpenAPI document: served without a key, as the real one is."""
        return JSONResponse(openapi_document())

    async def complete_task(self, request: Request) -> Response:
        tid = request.path_params["id"]
        if self.quirks.no_complete_endpoint:
            raise ApiProblem(404, "NOT_FOUND", f"no such path {request.url.path}")
        return await self._write(
            request, lambda body: (200, {"data": self.store.complete_task(tid)})
        )


def _paging(request: Request) -> tuple[int, int]:
    limit = _int(request, "limit", 50)
    offset = _int(request, "offset", 0)
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error({"limit": f"must be between 1 and {MAX_LIMIT}"})
    if offset < 0:
        raise validation_error({"offset": "must not be negative"})
    return limit, offset


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation_error({name: "must be an integer"}) from None


def _opt_int(request: Request, name: str) -> int | None:
    return _int(request, name, 0) if name in request.query_params else None


def _opt_date(request: Request, name: str) -> dt.date | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise validation_error({name: "must be a date YYYY-MM-DD"}) from None


def _list(
    rows: Sequence[dict[str, Any]], limit: int, offset: int, *, has_more: bool = True
) -> JSONResponse:
    page = list(rows[offset : offset + limit])
    return _page(page, len(rows), limit, offset, has_more=has_more)


def _page(
    page: list[dict[str, Any]], total: int, limit: int, offset: int, *, has_more: bool = True
) -> JSONResponse:
    meta: dict[str, Any] = {"total": total, "limit": limit, "offset": offset}
    if has_more:
        meta["has_more"] = offset + len(page) < total
    return JSONResponse({"data": page, "meta": meta})
