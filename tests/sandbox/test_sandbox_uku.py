"""The sandbox Uku API honours docs/uku-api.md: auth headers, lists, writes, idempotency."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from trigon_sync.sandbox import SANDBOX_COMPANY, SANDBOX_UKU_KEY, SandboxWorld

TASK = {
    "title": "Monthly summary",
    "client_id": 101,
    "topic_id": 1,
    "date": "2024-10-31",
    "description": "trigon-sync:f1:2024-10",
    "custom_fields": [{"field_id": 14, "value": 12}, {"field_id": 10, "value": 3}],
}


def error_code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


# -- conventions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"X-Uku-Company": SANDBOX_COMPANY}, 401, "UNAUTHORIZED"),
        ({"X-API-Key": "wrong", "X-Uku-Company": SANDBOX_COMPANY}, 401, "UNAUTHORIZED"),
        ({"X-API-Key": SANDBOX_UKU_KEY}, 400, "MISSING_COMPANY"),
        ({"X-API-Key": SANDBOX_UKU_KEY, "X-Uku-Company": "other"}, 400, "INVALID_COMPANY"),
    ],
)
def test_auth_header_errors(
    uku_app: Any, asgi_transport: Any, headers: dict[str, str], status: int, code: str
) -> None:
    """A missing/bad key is 401; a missing or foreign company is 400 with its own code."""
    with httpx.Client(transport=asgi_transport(uku_app), base_url="http://uku.test/api/v3") as bare:
        answer = bare.get("/clients", headers=headers)
    assert (answer.status_code, error_code(answer)) == (status, code)


def test_plan_and_role_forbidden(uku_http: httpx.Client, sandbox_world: SandboxWorld) -> None:
    """Below Team every call is 403 reason plan; a member key may read but not write."""
    sandbox_world.set_uku(plan="pro")
    answer = uku_http.get("/clients")
    assert (answer.status_code, error_code(answer)) == (403, "FORBIDDEN")
    assert answer.json()["error"]["details"] == {"reason": "plan"}
    sandbox_world.set_uku(plan="elite", api_key_role="member")
    assert uku_http.get("/clients").status_code == 200
    write = uku_http.post("/clients", json={"name": "X OÜ"})
    assert (write.status_code, write.json()["error"]["details"]) == (403, {"reason": "role"})


def test_lists_are_paged_with_meta(uku_http: httpx.Client, sandbox_world: SandboxWorld) -> None:
    """limit/offset pages carry meta total/limit/offset/has_more and cover every row once."""
    for n in range(7):
        uku_http.post("/clients", json={"name": f"Client {n} OÜ"})
    total = len(sandbox_world.seed.uku.clients) + 7
    seen, offset = [], 0
    while True:
        body = uku_http.get("/clients", params={"limit": 4, "offset": offset}).json()
        assert body["meta"]["total"] == total and body["meta"]["limit"] == 4
        seen += [c["id"] for c in body["data"]]
        if not body["meta"]["has_more"]:
            break
        offset += 4
    assert seen == sorted(c["id"] for c in sandbox_world.uku_state()["clients"])


@pytest.mark.parametrize("params", [{"limit": 201}, {"limit": 0}, {"offset": -1}, {"limit": "x"}])
def test_bad_paging(uku_http: httpx.Client, params: dict) -> None:
    """limit above 200 (or below 1), a negative offset or a non-number is 400 VALIDATION_ERROR."""
    answer = uku_http.get("/clients", params=params)
    assert (answer.status_code, error_code(answer)) == (400, "VALIDATION_ERROR")


def test_rate_limit_headers_name_the_tier(uku_http: httpx.Client) -> None:
    """Reads use the read bucket and writes the write bucket, each with its own counters."""
    read = uku_http.get("/topics").headers
    write = uku_http.post("/clients", json={"name": "Tier OÜ"}).headers
    assert (read["X-RateLimit-Tier"], read["X-RateLimit-Limit"]) == ("read", "1200")
    assert (write["X-RateLimit-Tier"], write["X-RateLimit-Limit"]) == ("write", "600")
    assert write["X-RateLimit-Remaining"] == "599"
    assert int(read["X-RateLimit-Reset"]) >= 1


# -- reads ------------------------------------------------------------------------------------


def test_clients_filter_by_registration_code_and_name(
    uku_http: httpx.Client, sandbox_seed_dict: dict[str, Any]
) -> None:
    """registration_code matches exactly; q matches part of the name, ignoring case."""
    existing = sandbox_seed_dict["uku"]["clients"][0]
    by_code = uku_http.get("/clients", params={"registration_code": existing["registration_code"]})
    assert [c["id"] for c in by_code.json()["data"]] == [existing["id"]]
    by_name = uku_http.get("/clients", params={"q": "mõnus"}).json()["data"]
    assert [c["name"] for c in by_name] == ["Kohvik Mõnus OÜ"]
    assert set(by_name[0]) == {
        "id",
        "name",
        "registration_code",
        "vat_number",
        "country",
        "manager_id",
    }


def test_members_topics_and_custom_fields(uku_http: httpx.Client) -> None:
    """The seeded company has manager@firm.ee, a Bookkeeping topic and 14+1 task fields."""
    members = uku_http.get("/members").json()["data"]
    assert "manager@firm.ee" in {m["email"] for m in members}
    assert set(members[0]) == {"id", "email", "name", "role"}
    assert "Bookkeeping" in {t["name"] for t in uku_http.get("/topics").json()["data"]}
    fields = uku_http.get("/custom-fields", params={"entity": "task"}).json()["data"]
    assert [f["type"] for f in fields].count("number") == 14
    assert [f["type"] for f in fields].count("text") == 1
    assert uku_http.get("/custom-fields", params={"entity": "client"}).json()["data"] == []
    bad = uku_http.get("/custom-fields", params={"entity": "invoice"})
    assert error_code(bad) == "VALIDATION_ERROR"


def test_task_filters(uku_http: httpx.Client) -> None:
    """Tasks filter by client, topic, status and date range."""
    a = uku_http.post("/tasks", json=TASK).json()["data"]
    b = uku_http.post("/tasks", json={**TASK, "client_id": 102, "date": "2024-11-29"}).json()
    uku_http.post(f"/tasks/{b['data']['id']}/complete")

    def ids(**params: Any) -> list[int]:
        return [t["id"] for t in uku_http.get("/tasks", params=params).json()["data"]]

    assert ids(client_id=101) == [a["id"]]
    assert ids(topic_id=1) == [a["id"], b["data"]["id"]]
    assert ids(topic_id=2) == []
    assert ids(status="finished") == [b["data"]["id"]]
    assert ids(date_from="2024-11-01", date_to="2024-11-30") == [b["data"]["id"]]
    assert error_code(uku_http.get("/tasks", params={"status": "done"})) == "VALIDATION_ERROR"
    assert error_code(uku_http.get("/tasks", params={"client_id": "x"})) == "VALIDATION_ERROR"


# -- writes -----------------------------------------------------------------------------------


def test_create_and_patch_client(uku_http: httpx.Client) -> None:
    """POST /clients is 201 with the stored object; PATCH changes only the named fields."""
    created = uku_http.post(
        "/clients", json={"name": "Alpha OÜ", "registration_code": "10137319", "manager_id": 2}
    )
    assert created.status_code == 201
    client = created.json()["data"]
    assert client["country"] == "EE" and client["manager_id"] == 2
    patched = uku_http.patch(f"/clients/{client['id']}", json={"vat_number": "EE100000001"})
    assert patched.status_code == 200
    assert patched.json()["data"] == {**client, "vat_number": "EE100000001"}
    missing = uku_http.patch("/clients/99999", json={"name": "x"})
    assert (missing.status_code, error_code(missing)) == (404, "NOT_FOUND")


def test_duplicate_registration_code_warns(
    uku_http: httpx.Client, sandbox_seed_dict: dict[str, Any]
) -> None:
    """Creating a client with a code another client has succeeds with a warning."""
    code = sandbox_seed_dict["uku"]["clients"][0]["registration_code"]
    answer = uku_http.post("/clients", json={"name": "Twin OÜ", "registration_code": code})
    assert answer.status_code == 201
    assert answer.json()["warnings"][0]["code"] == "DUPLICATE_REGISTRATION_CODE"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/clients", {}, "name"),
        ("/clients", {"name": ""}, "name"),
        ("/clients", {"name": "X", "manager_id": 999}, "manager_id"),
        ("/clients", {"name": "X", "regcode": "1"}, "regcode"),
        ("/tasks", {**TASK, "client_id": 999}, "client_id"),
        ("/tasks", {**TASK, "topic_id": 999}, "topic_id"),
        ("/tasks", {**TASK, "date": "31.10.2024"}, "date"),  # only a title is required
        ("/tasks", {**TASK, "status": "done"}, "status"),
        ("/tasks", {**TASK, "custom_fields": [{"field_id": 999, "value": 1}]}, "custom_fields"),
        ("/tasks", {**TASK, "custom_fields": [{"field_id": 10, "value": "3"}]}, "custom_fields"),
        ("/tasks", {**TASK, "custom_fields": {"10": 3}}, "custom_fields"),
    ],
)
def test_body_validation(uku_http: httpx.Client, path: str, body: dict, field: str) -> None:
    """Bad bodies are 400 VALIDATION_ERROR with details.fields naming the field."""
    answer = uku_http.post(path, json=body)
    assert (answer.status_code, error_code(answer)) == (400, "VALIDATION_ERROR")
    assert field in answer.json()["error"]["details"]["fields"]


def test_non_json_body(uku_http: httpx.Client) -> None:
    """A body that is not JSON is a validation error on 'body'."""
    answer = uku_http.post("/clients", content=b"{not json", headers={"Content-Type": "x"})
    assert answer.json()["error"]["details"]["fields"] == {"body": "is not valid JSON"}


def test_task_create_patch_and_custom_field_merge(uku_http: httpx.Client) -> None:
    """A task PATCH replaces the values of the fields it names and keeps the others."""
    task = uku_http.post("/tasks", json=TASK).json()["data"]
    assert task["status"] == "new"
    assert task["custom_fields"] == [{"field_id": 10, "value": 3}, {"field_id": 14, "value": 12}]
    patched = uku_http.patch(
        f"/tasks/{task['id']}",
        json={"custom_fields": [{"field_id": 10, "value": 5}, {"field_id": 24, "value": "ok"}]},
    ).json()["data"]
    assert patched["custom_fields"] == [
        {"field_id": 10, "value": 5},
        {"field_id": 14, "value": 12},
        {"field_id": 24, "value": "ok"},
    ]
    assert patched["title"] == TASK["title"]


def test_complete_and_its_documented_fallback(
    uku_http: httpx.Client, sandbox_world: SandboxWorld
) -> None:
    """/complete finishes a task; on an older deployment it is 404 and PATCH status works."""
    task = uku_http.post("/tasks", json=TASK).json()["data"]
    done = uku_http.post(f"/tasks/{task['id']}/complete")
    assert done.json()["data"]["status"] == "finished"
    other = uku_http.post("/tasks", json={**TASK, "client_id": 102}).json()["data"]
    sandbox_world.set_uku(complete_endpoint=False)
    old = uku_http.post(f"/tasks/{other['id']}/complete")
    assert (old.status_code, error_code(old)) == (404, "NOT_FOUND")
    fallback = uku_http.patch(f"/tasks/{other['id']}", json={"status": "finished"})
    assert fallback.json()["data"]["status"] == "finished"
    assert error_code(uku_http.post("/tasks/99999/complete")) == "NOT_FOUND"


def test_a_person_deletes_or_moves_a_task(uku_http: httpx.Client) -> None:
    """The admin endpoints do what a person does in Uku's web app: a deleted task is 404
    and no longer listed; a moved task is listed under its new client only."""
    deleted = uku_http.post("/tasks", json=TASK).json()["data"]
    moved = uku_http.post("/tasks", json={**TASK, "description": None}).json()["data"]
    admin = "http://uku.test/_sandbox"
    assert uku_http.post(f"{admin}/tasks/{deleted['id']}/delete").status_code == 204
    assert uku_http.get(f"/tasks/{deleted['id']}").status_code == 404
    assert uku_http.post(f"{admin}/tasks/{deleted['id']}/delete").status_code == 404
    answer = uku_http.post(f"{admin}/tasks/{moved['id']}/move", json={"client_id": 102})
    assert answer.status_code == 204
    assert uku_http.get(f"/tasks/{moved['id']}").json()["data"]["client_id"] == 102
    listed = {t["id"]: t["client_id"] for t in uku_http.get("/tasks").json()["data"]}
    assert deleted["id"] not in listed and listed[moved["id"]] == 102
    assert (
        uku_http.post(f"{admin}/tasks/{moved['id']}/move", json={"client_id": 9}).status_code == 404
    )
    assert uku_http.post(f"{admin}/tasks/{moved['id']}/move", json={}).status_code == 400


# -- idempotency and the write log --------------------------------------------------------------


def test_idempotent_replay_and_reuse(uku_http: httpx.Client, sandbox_world: SandboxWorld) -> None:
    """Same key + same body replays (header set, nothing new stored); other body is 409."""
    headers = {"Idempotency-Key": "trigon-sync:f1:2024-10"}
    first = uku_http.post("/tasks", json=TASK, headers=headers)
    reordered = dict(reversed(list(TASK.items())))
    again = uku_http.post("/tasks", json=reordered, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    other = uku_http.post("/tasks", json={**TASK, "title": "Other"}, headers=headers)
    assert (other.status_code, error_code(other)) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert len(sandbox_world.uku_state()["tasks"]) == 1

    writes = sandbox_world.writes()
    assert [(w["status"], w["replayed"]) for w in writes] == [
        (201, False),
        (201, True),
        (409, False),
    ]
    assert {w["idempotency_key"] for w in writes} == {headers["Idempotency-Key"]}
    assert writes[0]["object"]["id"] == first.json()["data"]["id"]
    assert writes[0]["body"] == TASK


def test_failed_writes_are_not_remembered(uku_http: httpx.Client) -> None:
    """A 400 is not stored under the key, so the fixed request with the same key succeeds."""
    headers = {"Idempotency-Key": "k-400"}
    assert uku_http.post("/clients", json={}, headers=headers).status_code == 400
    assert uku_http.post("/clients", json={"name": "Fixed OÜ"}, headers=headers).status_code == 201


def test_overlong_idempotency_key(uku_http: httpx.Client) -> None:
    """Keys longer than 255 characters are refused as a validation error."""
    answer = uku_http.post("/clients", json={"name": "X"}, headers={"Idempotency-Key": "k" * 256})
    assert error_code(answer) == "VALIDATION_ERROR"


def test_unknown_path_and_method(uku_http: httpx.Client) -> None:
    """Unknown paths are 404 NOT_FOUND and wrong methods 405, in the error envelope."""
    assert error_code(uku_http.get("/invoices")) == "NOT_FOUND"
    assert uku_http.delete("/clients").status_code == 405
