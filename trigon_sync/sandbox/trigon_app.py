"""The sandbox Trigon API: docs/trigon-api.md served from a :class:`SandboxWorld`.

Routes live under ``/v1`` (the production environment) and again under ``/test/v1`` (the
test environment: same users and firms, but an API key works only in the environment it
was issued for); ``/_sandbox/`` holds the admin endpoints (docs/sandbox.md).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trigon_sync.sandbox import admin
from trigon_sync.sandbox.counting import Event
from trigon_sync.sandbox.faults import Clock, FaultConfig
from trigon_sync.sandbox.pipeline import make_app
from trigon_sync.sandbox.problems import ApiProblem, validation_error
from trigon_sync.sandbox.seed import COLLECTIONS
from trigon_sync.sandbox.server_state import Bucket, ServerState, make_state
from trigon_sync.sandbox.trigon_store import UserState
from trigon_sync.sandbox.world import SandboxWorld

BASE = "/v1"
TEST_BASE = "/test/v1"
#: How ``connect --mode api-key`` credentials travel (docs/trigon-api.md, our assumption).
ID_TOKEN_HEADER = "x-trigon-id-token"
API_KEY_HEADER = "x-trigon-api-key"
MAX_PER_PAGE = 200
ERROR_CODES = {500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "UNAVAILABLE"}


def make_trigon_app(
    world: SandboxWorld, faults: FaultConfig | None = None, clock: Clock | None = None
) -> Starlette:
    """A Starlette app serving the Trigon contract; ``app.state.sandbox`` is its ServerState."""

    def bucket(method: str, headers: Headers) -> Bucket:
        user = world.trigon.user_of(headers.get("authorization"), headers.get(ID_TOKEN_HEADER))
        return f"user:{(user or 'anonymous').lower()}", server.config.trigon_limit, None

    server = make_state("trigon", world, faults, clock, bucket, ERROR_CODES)
    api = _TrigonApi(server)
    routes = [
        Route("/auth/login", api.login, methods=["POST"]),
        Route("/auth/refresh", api.refresh, methods=["POST"]),
        Route("/auth/revoke", api.revoke, methods=["POST"]),
        Route("/me", api.me, methods=["GET"]),
        Route("/firms", api.firms, methods=["GET"]),
        Route("/firms/{firm_id:segment}", api.firm, methods=["GET"]),
        Route(
            "/firms/{firm_id:segment}/reporting-persons/count", api.persons_count, methods=["GET"]
        ),
        Route("/firms/{firm_id:segment}/fixed-assets/count", api.assets_count, methods=["GET"]),
        Route("/firms/{firm_id:segment}/{collection:segment}/count", api.count, methods=["GET"]),
        Route("/firms/{firm_id:segment}/{collection:segment}", api.records, methods=["GET"]),
    ]
    return make_app(server, BASE, routes, admin.trigon_admin(server), also=(TEST_BASE,))


class _TrigonApi:
    """Endpoint functions; each holds the world lock only for its synchronous part."""

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.world = server.world
        self.store = server.world.trigon

    # -- auth ---------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        body = await _json_object(request)
        problems = {
            k: "is required"
            for k in ("email", "password")
            if not isinstance(body.get(k), str) or not body.get(k)
        }
        if problems:
            raise validation_error(problems, "email and password are required")
        with self.world.lock:
            tokens = self.store.login(body["email"], body["password"], self.server.clock())
        return JSONResponse(tokens)

    async def refresh(self, request: Request) -> Response:
        token = await _refresh_token(request)
        with self.world.lock:
            tokens = self.store.refresh(token, self.server.clock())
        return JSONResponse(tokens)

    async def revoke(self, request: Request) -> Response:
        token = await _refresh_token(request)
        with self.world.lock:
            self.store.revoke(token)
        return Response(status_code=204)

    def _user(self, request: Request) -> UserState:
        headers = request.headers
        if ID_TOKEN_HEADER in headers or API_KEY_HEADER in headers:
            environment = "test" if request.url.path.startswith(TEST_BASE + "/") else "production"
            return self.store.authenticate_api_key(
                headers.get(ID_TOKEN_HEADER), headers.get(API_KEY_HEADER), environment
            )
        return self.store.authenticate(headers.get("authorization"), self.server.clock())

    # -- firms --------------------------------------------------------------------------

    async def me(self, request: Request) -> Response:
        with self.world.lock:
            user = self._user(request)
            return JSONResponse(
                {"data": {"email": user.email, "name": user.name, "active": user.active}}
            )

    async def firms(self, request: Request) -> Response:
        with self.world.lock:
            user = self._user(request)
            page, per_page = _paging(request)
            rows = [self.store.firm_json(user, f) for f in self.store.listable(user)]
        return _page(rows, page, per_page)

    async def firm(self, request: Request) -> Response:
        with self.world.lock:
            user = self._user(request)
            firm = self.store.firm_for(user, request.path_params["firm_id"], need_view=False)
            return JSONResponse({"data": self.store.firm_json(user, firm)})

    # -- records ------------------------------------------------------------------------

    def _viewable(self, request: Request) -> str:
        user = self._user(request)
        return self.store.firm_for(user, request.path_params["firm_id"], need_view=True).id

    async def count(self, request: Request) -> Response:
        with self.world.lock:
            firm_id = self._viewable(request)
            rtype = _collection(request)
            event, start, end = _required_window(request)
            n = self.store.count(firm_id, rtype, event, start, end)
        return JSONResponse({"data": {"count": n}})

    async def records(self, request: Request) -> Response:
        with self.world.lock:
            firm_id = self._viewable(request)
            rtype = _collection(request)
            event, start, end = _window(request, required=False)
            page, per_page = _paging(request)
            selected = self.store.records.select(firm_id, rtype, event, start, end)
        rows = []
        for r in selected:
            row: dict[str, Any] = {
                "id": r.id,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            if r.date is not None:
                row["date"] = r.date.isoformat()
            rows.append(row)
        return _page(rows, page, per_page)

    async def persons_count(self, request: Request) -> Response:
        with self.world.lock:
            firm_id = self._viewable(request)
            day = _date_param(request, "as_of")
            n = self.store.persons_on(firm_id, day)
        return JSONResponse({"data": {"count": n}})

    async def assets_count(self, request: Request) -> Response:
        with self.world.lock:
            firm_id = self._viewable(request)
            day = _date_param(request, "depreciable_on")
            n = self.store.assets_on(firm_id, day)
        return JSONResponse({"data": {"count": n}})


# -- parameter parsing (400 VALIDATION_ERROR naming the parameter) --------------------------


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation_error({"body": "is not valid JSON"}) from exc
    if not isinstance(body, dict):
        raise validation_error({"body": "must be a JSON object"})
    return body


async def _refresh_token(request: Request) -> str:
    body = await _json_object(request)
    token = body.get("refresh_token")
    if not isinstance(token, str) or not token:
        raise validation_error({"refresh_token": "is required"})
    return token


def _collection(request: Request) -> str:
    name = request.path_params["collection"]
    if name not in COLLECTIONS:
        raise ApiProblem(
            404, "NOT_FOUND", f"no such collection {name!r}", {"collections": sorted(COLLECTIONS)}
        )
    return COLLECTIONS[name]


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error({name: "must be an integer"}) from None
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise validation_error({name: f"must be {limit}"})
    return value


def _paging(request: Request) -> tuple[int, int]:
    return (
        _int_param(request, "page", 1, 1, None),
        _int_param(request, "per_page", 50, 1, MAX_PER_PAGE),
    )


def _page(rows: Sequence[dict[str, Any]], page: int, per_page: int) -> JSONResponse:
    total = len(rows)
    start = (page - 1) * per_page
    return JSONResponse(
        {
            "data": list(rows[start : start + per_page]),
            "pagination": {
                "page": page,
                "per_page": per_page,
                "total": total,
                "total_pages": math.ceil(total / per_page) if total else 0,
            },
        }
    )


def _parse_date(name: str, raw: str | None) -> dt.date:
    if raw is None:
        raise validation_error({name: "is required"})
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise validation_error({name: "must be a date YYYY-MM-DD"}) from None


def _date_param(request: Request, name: str) -> dt.date:
    return _parse_date(name, request.query_params.get(name))


def _required_window(request: Request) -> tuple[Event, dt.date, dt.date]:
    event, start, end = _window(request, required=True)
    if event is None or start is None or end is None:  # pragma: no cover - _window raised
        raise validation_error({"created_from": "is required"})
    return event, start, end


def _window(
    request: Request, *, required: bool
) -> tuple[Event | None, dt.date | None, dt.date | None]:
    """Exactly one of created_from/_to or updated_from/_to, both ends, from <= to."""
    q = request.query_params
    given = {e for e in ("created", "updated") if f"{e}_from" in q or f"{e}_to" in q}
    if len(given) > 1:
        raise validation_error(
            {"updated_from": "cannot be combined with created_from/created_to"},
            "use either the created or the updated window, not both",
        )
    if not given:
        if required:
            raise validation_error(
                {"created_from": "is required (or updated_from/updated_to)"},
                "a window is required: created_from+created_to or updated_from+updated_to",
            )
        return None, None, None
    event: Event = "created" if "created" in given else "updated"
    start = _parse_date(f"{event}_from", q.get(f"{event}_from"))
    end = _parse_date(f"{event}_to", q.get(f"{event}_to"))
    if start > end:
        raise validation_error({f"{event}_from": f"is later than {event}_to"})
    return event, start, end
