"""The Uku client: headers, paging, idempotent writes, the complete fallback, typed errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import httpx
import pytest

from trigon_sync.cli.connections import make_uku_client
from trigon_sync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    PermissionDenied,
    WriteUnconfirmed,
)
from trigon_sync.http.session import RetryPolicy
from trigon_sync.sandbox import SANDBOX_COMPANY, SANDBOX_UKU_KEY
from trigon_sync.store.secrets import Secret
from trigon_sync.uku import ClientDraft, TaskChanges, TaskDraft, UkuClient

BASE = "http://uku.test/api/v3"
COMPANY = "c0ffee00-0000-4000-8000-000000000001"


def respond(status: int, body: object = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def err(status: int, code: str, details: object = None) -> httpx.Response:
    return respond(status, {"error": {"code": code, "message": code.lower(), "details": details}})


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> UkuClient:
    return make_uku_client(
        BASE,
        COMPANY,
        Secret("uku-key-1"),
        transport=httpx.MockTransport(handler),
        policy=RetryPolicy(jitter=lambda: 0.0),
        sleep=lambda _s: None,
    )


TASK = {
    "id": 7,
    "title": "Summary 2024-10",
    "client_id": 3,
    "topic_id": 2,
    "date": "2024-10-31",
    "status": "new",
    "description": "trigon-sync:f1:2024-10",
    "custom_fields": [{"field_id": 11, "value": 4}, {"field_id": 12, "value": None}],
}


def test_every_request_carries_key_and_company_and_lists_are_paged() -> None:
    """list_clients pages with limit 200/offset and sends X-API-Key + X-Uku-Company."""
    seen: list[httpx.Request] = []
    clients = [
        {
            "id": i,
            "name": f"C{i}",
            "registration_code": f"{10000000 + i}",
            "vat_number": None,
            "country": "EE",
            "manager_id": None,
        }
        for i in range(450)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        chunk = clients[offset : offset + limit]
        return respond(
            200,
            {
                "data": chunk,
                "meta": {
                    "total": 450,
                    "limit": limit,
                    "offset": offset,
                    "has_more": offset + limit < 450,
                },
            },
        )

    found = client_for(handler).list_clients()
    assert [c.id for c in found] == list(range(450))
    assert [r.url.params["offset"] for r in seen] == ["0", "200", "400"]
    assert all(r.headers["X-API-Key"] == "uku-key-1" for r in seen)
    assert all(r.headers["X-Uku-Company"] == COMPANY for r in seen)


def test_registration_code_filter_is_sent() -> None:
    """list_clients(registration_code=...) filters on the server."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, {"data": [], "meta": {"has_more": False}})

    client_for(handler).list_clients(registration_code="10137319")
    assert seen[0].url.params["registration_code"] == "10137319"


def test_create_task_sends_the_key_and_body_once_and_reports_a_replay() -> None:
    """A create carries the key and the counts as a list; a replay is flagged for the caller."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(201, {"data": TASK}, **{"Idempotency-Replayed": "true"})

    draft = TaskDraft(
        title="Summary 2024-10",
        client_id=3,
        topic_id=2,
        date=dt.date(2024, 10, 31),
        description="trigon-sync:f1:2024-10",
        custom_fields={11: 4, 12: None},
    )
    task = client_for(handler).create_task(draft, idempotency_key="task-f1-2024-10")
    assert task.custom_fields == {11: 4, 12: None} and task.replayed
    assert [r.headers["Idempotency-Key"] for r in seen] == ["task-f1-2024-10"]
    body = json.loads(seen[0].content)
    assert body["custom_fields"] == [{"field_id": 11, "value": 4}, {"field_id": 12, "value": None}]


@pytest.mark.parametrize(
    "answer",
    [err(502, "INTERNAL_ERROR"), err(409, "IDEMPOTENCY_CONFLICT")],
    ids=["502", "409-conflict"],
)
def test_a_create_with_an_unknown_outcome_is_sent_once(answer: httpx.Response) -> None:
    """A 5xx or a concurrent duplicate's 409: WriteUnconfirmed after one POST, never a retry."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    draft = TaskDraft(title="T", client_id=3, topic_id=2, date=dt.date(2024, 10, 31))
    with pytest.raises(WriteUnconfirmed):
        client_for(handler).create_task(draft, idempotency_key="k")
    assert len(seen) == 1


def test_update_task_sends_only_named_changes() -> None:
    """A patch names only what changes; custom fields in the list shape."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return respond(200, {"data": TASK})

    client_for(handler).update_task(7, TaskChanges(custom_fields={11: 5}))
    assert seen[0].method == "PATCH"
    assert json.loads(seen[0].content) == {"custom_fields": [{"field_id": 11, "value": 5}]}


def test_complete_task_is_the_status_patch() -> None:
    """/complete is not deployed in production: completion is PATCH status=finished."""
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        assert json.loads(request.content) == {"status": "finished"}
        return respond(200, {"data": {**TASK, "status": "finished"}})

    assert client_for(handler).complete_task(7).status == "finished"
    assert seen == [("PATCH", "/api/v3/tasks/7")]


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (err(401, "UNAUTHORIZED"), AuthError, "refused the API key"),
        (err(400, "MISSING_COMPANY"), ConfigError, "uku.company"),
        (err(400, "INVALID_COMPANY"), AuthError, "does not belong to company"),
        (err(403, "FORBIDDEN", {"reason": "plan"}), PermissionDenied, "no API access"),
        (err(403, "FORBIDDEN", {"reason": "role"}), PermissionDenied, "role"),
        (
            err(400, "VALIDATION_ERROR", {"fields": {"name": "is required"}}),
            ApiError,
            "name is required",
        ),
        (err(409, "IDEMPOTENCY_KEY_REUSED"), ApiError, "idempotency key"),
    ],
)
def test_errors_are_typed(answer: httpx.Response, error: type, text: str) -> None:
    """Each documented Uku error becomes its own typed error and message."""
    with pytest.raises(error, match=text):
        client_for(lambda _r: answer).create_client(
            ClientDraft(name="Alpha OÜ", registration_code="10137319"), idempotency_key="k"
        )


def test_connect_uku_hint_on_a_bad_key() -> None:
    """A 401 tells the user to run connect-uku."""
    with pytest.raises(AuthError) as caught:
        client_for(lambda _r: err(401, "UNAUTHORIZED")).check()
    assert "connect-uku" in (caught.value.hint or "")


def test_unexpected_object_shapes_point_at_the_adapter() -> None:
    """A client object without an id is reported as a contract mismatch, not a crash."""

    def handler(_r: httpx.Request) -> httpx.Response:
        return respond(200, {"data": [{"name": "x"}], "meta": {"has_more": False}})

    with pytest.raises(ApiError, match="unexpected client object") as caught:
        client_for(handler).list_clients()
    assert "adapter.py" in (caught.value.hint or "")


def test_warnings_are_collected() -> None:
    """Warnings Uku attaches to answers are kept for the run summary."""

    def handler(_r: httpx.Request) -> httpx.Response:
        return respond(
            200,
            {
                "data": [],
                "meta": {"has_more": False},
                "warnings": [{"code": "DEPRECATED", "message": "soon"}],
            },
        )

    client = client_for(handler)
    client.list_topics()
    assert [w.code for w in client.warnings] == ["DEPRECATED"]


def test_api_key_is_not_in_the_client_repr() -> None:
    """Printing a client never shows the API key."""
    client = client_for(lambda _r: respond(200, {"data": []}))
    assert "uku-key-1" not in repr(client)


# -- against the sandbox (in-process and over a socket) --------------------------------


@pytest.fixture
def uku(uku_app, asgi_transport) -> UkuClient:
    return make_uku_client(
        "http://uku.test/api/v3",
        SANDBOX_COMPANY,
        Secret(SANDBOX_UKU_KEY),
        transport=asgi_transport(uku_app),
        policy=RetryPolicy(jitter=lambda: 0.0, max_attempts=8),
        sleep=lambda _s: None,
    )


def test_sandbox_lookups(uku: UkuClient, sandbox_world) -> None:
    """Members, topics and the 14 number fields + 1 text field of the seed are read."""
    assert uku.check() >= 1
    assert any(m.email == "manager@firm.ee" for m in uku.list_members())
    assert "Bookkeeping" in {t.name for t in uku.list_topics()}
    fields = uku.list_custom_fields()
    assert sum(f.holds_count for f in fields) == 14
    assert sum(not f.holds_count for f in fields) == 1
    assert len(uku.list_clients()) == len(sandbox_world.uku_state()["clients"])


def test_sandbox_create_twice_with_one_key_creates_one_client(
    uku: UkuClient, sandbox_world
) -> None:
    """Repeating a create with the same Idempotency-Key replays the first answer."""
    draft = ClientDraft(name="Gamma OÜ", registration_code="10137319")
    first = uku.create_client(draft, idempotency_key="client-f9-10137319")
    second = uku.create_client(draft, idempotency_key="client-f9-10137319")
    assert first == second
    assert [c.id for c in uku.list_clients(registration_code="10137319")] == [first.id]
    assert [w["replayed"] for w in sandbox_world.writes()] == [False, True]


def test_sandbox_task_lifecycle_and_completion_by_patch(uku: UkuClient, sandbox_world) -> None:
    """Create, patch and complete a task; completion is the status PATCH (no /complete)."""
    client = uku.list_clients()[0]
    topic = next(t for t in uku.list_topics() if t.name == "Bookkeeping")
    field_ids = [f.id for f in uku.list_custom_fields() if f.holds_count][:2]
    draft = TaskDraft(
        title="Summary 2024-10",
        client_id=client.id,
        topic_id=topic.id,
        date=dt.date(2024, 10, 31),
        description="trigon-sync-task:0123456789abcdef:2024-10",
        custom_fields={field_ids[0]: 3},
    )
    task = uku.create_task(draft, idempotency_key="task-f1-2024-10")
    patched = uku.update_task(task.id, TaskChanges(custom_fields={field_ids[1]: 8}))
    assert patched.custom_fields[field_ids[0]] == 3 and patched.custom_fields[field_ids[1]] == 8
    found = uku.list_tasks(client_id=client.id, topic_id=topic.id)
    assert [t.id for t in found] == [task.id]
    assert uku.get_task(task.id) == patched
    assert uku.complete_task(task.id).status == "finished"
    assert [w["method"] for w in sandbox_world.writes()] == ["POST", "PATCH", "PATCH"]
    assert uku.get_task(99_999) is None


def test_sandbox_write_failing_after_commit_is_not_doubled(sandbox_world, asgi_transport) -> None:
    """A 5xx after Uku committed a create is not sent again: one task, WriteUnconfirmed."""
    from trigon_sync.sandbox import FaultConfig, make_uku_app

    faults = FaultConfig(seed=1, error_rate=0.5, write_phase="after")
    uku = make_uku_client(
        "http://uku.test/api/v3",
        SANDBOX_COMPANY,
        Secret(SANDBOX_UKU_KEY),
        transport=asgi_transport(make_uku_app(sandbox_world, faults)),
        policy=RetryPolicy(jitter=lambda: 0.0, max_attempts=10),
        sleep=lambda _s: None,
    )
    client = uku.list_clients()[0]
    topic = uku.list_topics()[0]
    unconfirmed = 0
    for n in range(5):
        try:
            uku.create_task(
                TaskDraft(
                    title=f"T{n}",
                    client_id=client.id,
                    topic_id=topic.id,
                    date=dt.date(2024, 10, 31),
                ),
                idempotency_key=f"task-{n}",
            )
        except WriteUnconfirmed:
            unconfirmed += 1
    titles = [t["title"] for t in sandbox_world.uku_state()["tasks"]]
    assert sorted(t for t in titles if t.startswith("T")) == [f"T{n}" for n in range(5)]
    assert unconfirmed > 0 and uku.stats.by_method["POST"] == 5


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"plan": "basic"}, PermissionDenied, "no API access"),
        ({"api_key_role": "member"}, PermissionDenied, "role"),
    ],
)
def test_sandbox_plan_and_role_refusals(
    uku: UkuClient, sandbox_world, change: dict, error: type, text: str
) -> None:
    """A plan without API access and a read-only role each get their own message."""
    sandbox_world.set_uku(**change)
    with pytest.raises(error, match=text):
        uku.create_client(ClientDraft(name="X OÜ", registration_code="10137319"), "k-x")


def test_sandbox_bad_key_and_company(uku_app, asgi_transport) -> None:
    """A wrong key is AuthError; a foreign company is its own AuthError."""
    bad_key = make_uku_client(
        "http://uku.test/api/v3", SANDBOX_COMPANY, Secret("nope"), transport=asgi_transport(uku_app)
    )
    with pytest.raises(AuthError, match="refused the API key"):
        bad_key.check()
    other = make_uku_client(
        "http://uku.test/api/v3",
        "00000000-0000-4000-8000-000000000000",
        Secret(SANDBOX_UKU_KEY),
        transport=asgi_transport(uku_app),
    )
    with pytest.raises(AuthError, match="does not belong to company"):
        other.check()


def test_sandbox_over_a_real_socket(sandbox_server) -> None:
    """The client talks to the socket-served sandbox too."""
    with make_uku_client(sandbox_server.uku_url, SANDBOX_COMPANY, Secret(SANDBOX_UKU_KEY)) as uku:
        assert len(uku.list_clients()) == len(sandbox_server.world.uku_state()["clients"])
        assert uku.stats.by_method == {"GET": 1}
