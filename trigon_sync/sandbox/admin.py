"""Sandbox-only admin endpoints under ``/_sandbox/`` (no auth, no faults, not logged).

They let subprocess end-to-end tests do over HTTP what in-process tests do through
:class:`SandboxWorld`: read the request and write logs, change faults, take View away,
deactivate users, expire or revoke tokens. Documented in docs/sandbox.md.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from trigon_sync.business_register.file_format import REGISTER_ZIP_NAME
from trigon_sync.sandbox.pipeline import ADMIN_PREFIX
from trigon_sync.sandbox.problems import ApiProblem, validation_error
from trigon_sync.sandbox.server_state import ServerState

Handler = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise validation_error({"body": "is not valid JSON"}) from None
    if not isinstance(body, dict):
        raise validation_error({"body": "must be a JSON object"})
    return body


def _flag(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise validation_error({key: "must be true or false"})
    return value


def _missing(exc: KeyError) -> ApiProblem:
    return ApiProblem(404, "NOT_FOUND", str(exc.args[0]) if exc.args else "not found")


def _common(server: ServerState) -> list[Route]:
    world = server.world

    async def requests(request: Request) -> Response:
        return JSONResponse({"data": world.requests(server.side)})

    async def get_faults(request: Request) -> Response:
        return JSONResponse({"data": server.config.to_dict()})

    async def set_faults(request: Request) -> Response:
        body = await _body(request)
        try:
            server.set_faults(server.config.updated(body))
        except (ValueError, TypeError) as exc:
            raise validation_error({"faults": str(exc)}) from None
        return JSONResponse({"data": server.config.to_dict()})

    async def clear_logs(request: Request) -> Response:
        world.clear_logs()
        return Response(status_code=204)

    async def credentials(request: Request) -> Response:
        return JSONResponse({"data": world.credentials()})

    return [
        Route("/requests", requests, methods=["GET"]),
        Route("/faults", get_faults, methods=["GET"]),
        Route("/faults", set_faults, methods=["POST"]),
        Route("/clear-logs", clear_logs, methods=["POST"]),
        Route("/credentials", credentials, methods=["GET"]),
    ]


def trigon_admin(server: ServerState) -> Mount:
    world = server.world

    async def permissions(request: Request) -> Response:
        body = await _body(request)
        try:
            world.set_permission(
                request.path_params["firm_id"],
                view=_flag(body, "view"),
                list_=_flag(body, "list"),
                email=body.get("email"),
            )
        except KeyError as exc:
            raise _missing(exc) from None
        return Response(status_code=204)

    async def remove_firm(request: Request) -> Response:
        try:
            world.remove_firm(request.path_params["firm_id"])
        except KeyError as exc:
            raise _missing(exc) from None
        return Response(status_code=204)

    async def add_firm(request: Request) -> Response:
        body = await _body(request)
        try:
            firm = world.add_firm(
                body["id"], body["name"], body.get("registration_code"), body.get("vat_number")
            )
        except KeyError as exc:
            raise validation_error({str(exc.args[0]): "is required"}) from None
        except ValueError as exc:
            raise validation_error({"id": str(exc)}) from None
        return JSONResponse({"data": {"id": firm.id}}, status_code=201)

    async def add_records(request: Request) -> Response:
        body = await _body(request)
        rows = body.get("records")
        if not isinstance(rows, list):
            raise validation_error({"records": "must be a list of seed records"})
        try:
            n = world.add_records(rows)
        except KeyError as exc:
            raise validation_error({"records": f"unknown or missing {exc.args[0]}"}) from None
        except (ValueError, TypeError) as exc:
            raise validation_error({"records": str(exc)}) from None
        return JSONResponse({"data": {"added": n}}, status_code=201)

    async def user_flags(request: Request) -> Response:
        body = await _body(request)
        email = request.path_params["email"]
        try:
            active, removed = _flag(body, "active"), _flag(body, "removed")
            if active is not None:
                world.set_user_active(email, active)
            if removed is not None:
                world.set_user_removed(email, removed)
        except KeyError as exc:
            raise _missing(exc) from None
        return Response(status_code=204)

    async def expire(request: Request) -> Response:
        return JSONResponse({"data": {"expired": world.expire_access_tokens()}})

    async def revoke(request: Request) -> Response:
        body = await _body(request)
        return JSONResponse({"data": {"revoked": world.revoke_refresh_tokens(body.get("email"))}})

    async def register_zip(request: Request) -> Response:
        from trigon_sync.sandbox.register_file import register_zip_bytes

        with world.lock:
            rows = list(world.register)
        return Response(register_zip_bytes(rows), media_type="application/zip")

    async def revoke_keys(request: Request) -> Response:
        body = await _body(request)
        return JSONResponse({"data": {"revoked": world.revoke_api_keys(body.get("email"))}})

    return Mount(
        ADMIN_PREFIX,
        routes=[
            *_common(server),
            Route("/firms", add_firm, methods=["POST"]),
            Route("/records", add_records, methods=["POST"]),
            Route("/firms/{firm_id:segment}/permissions", permissions, methods=["POST"]),
            Route("/firms/{firm_id:segment}/remove", remove_firm, methods=["POST"]),
            Route("/users/{email:segment}/active", user_flags, methods=["POST"]),
            Route("/expire-tokens", expire, methods=["POST"]),
            Route("/revoke-tokens", revoke, methods=["POST"]),
            Route("/revoke-api-keys", revoke_keys, methods=["POST"]),
            Route(f"/register/{REGISTER_ZIP_NAME}", register_zip, methods=["GET"]),
        ],
    )


def uku_admin(server: ServerState) -> Mount:
    world = server.world

    async def writes(request: Request) -> Response:
        return JSONResponse({"data": world.writes()})

    async def state(request: Request) -> Response:
        return JSONResponse({"data": world.uku_state()})

    async def settings(request: Request) -> Response:
        from trigon_sync.sandbox.seed import UKU_PLANS, UKU_ROLES

        body = await _body(request)
        plan, role = body.get("plan"), body.get("api_key_role")
        if plan is not None and plan not in UKU_PLANS:
            raise validation_error({"plan": f"must be one of {', '.join(UKU_PLANS)}"})
        if role is not None and role not in UKU_ROLES:
            raise validation_error({"api_key_role": f"must be one of {', '.join(UKU_ROLES)}"})
        world.set_uku(
            plan=plan, api_key_role=role, complete_endpoint=_flag(body, "complete_endpoint")
        )
        return Response(status_code=204)

    async def delete_task(request: Request) -> Response:
        try:
            world.delete_task(int(request.path_params["task_id"]))
        except KeyError as exc:
            raise _missing(exc) from None
        return Response(status_code=204)

    async def move_task(request: Request) -> Response:
        body = await _body(request)
        client = body.get("client_id")
        if not isinstance(client, int) or isinstance(client, bool):
            raise validation_error({"client_id": "must be an integer"})
        try:
            world.move_task(int(request.path_params["task_id"]), client)
        except KeyError as exc:
            raise _missing(exc) from None
        return Response(status_code=204)

    async def behaviour(request: Request) -> Response:
        if request.method == "POST":
            try:
                server.behaviour = server.behaviour.updated(await _body(request))
            except (ValueError, TypeError) as exc:
                raise validation_error({"body": str(exc)}) from None
        return JSONResponse({"data": server.behaviour.to_dict()})

    return Mount(
        ADMIN_PREFIX,
        routes=[
            *_common(server),
            Route("/behaviour", behaviour, methods=["GET", "POST"]),
            Route("/writes", writes, methods=["GET"]),
            Route("/state", state, methods=["GET"]),
            Route("/settings", settings, methods=["POST"]),
            Route("/tasks/{task_id:int}/delete", delete_task, methods=["POST"]),
            Route("/tasks/{task_id:int}/move", move_task, methods=["POST"]),
        ],
    )
