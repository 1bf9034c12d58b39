"""The sandbox Trigon API honours docs/trigon-api.md: every endpoint, status and error code."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from trigon_sync.sandbox import SANDBOX_EMAIL, SANDBOX_PASSWORD, ManualClock, SandboxWorld
from trigon_sync.sandbox.seed import SeedFixedAsset, SeedReportingPerson

WINDOW = {"created_from": "2024-09-01", "created_to": "2025-06-30"}


@pytest.fixture
def firm(sandbox_seed_dict: dict[str, Any]) -> str:
    """A firm admin@firm.ee may View."""
    no_view = set(sandbox_seed_dict["anomalies"]["no_view"])
    return next(f["id"] for f in sandbox_seed_dict["trigon"]["firms"] if f["id"] not in no_view)


def error_code(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["code"])


def login(client: httpx.Client, email: str = SANDBOX_EMAIL, password: str = SANDBOX_PASSWORD):
    return client.post("/auth/login", json={"email": email, "password": password})


# -- authentication ---------------------------------------------------------------------------


def test_login_returns_tokens_and_user(trigon_http: httpx.Client) -> None:
    """A good login answers 200 with both tokens, Bearer type, expires_in and the user."""
    answer = login(trigon_http)
    body = answer.json()
    assert answer.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["user"]["email"] == SANDBOX_EMAIL
    assert body["access_token"] != body["refresh_token"]


@pytest.mark.parametrize(
    ("email", "password", "status", "code"),
    [
        (SANDBOX_EMAIL, "wrong", 401, "INVALID_CREDENTIALS"),
        ("nobody@firm.ee", SANDBOX_PASSWORD, 401, "INVALID_CREDENTIALS"),
        ("inactive@firm.ee", SANDBOX_PASSWORD, 403, "USER_INACTIVE"),
        ("former@firm.ee", SANDBOX_PASSWORD, 403, "USER_REMOVED"),
        ("", SANDBOX_PASSWORD, 400, "VALIDATION_ERROR"),
    ],
)
def test_login_failures_have_their_own_codes(
    trigon_http: httpx.Client, email: str, password: str, status: int, code: str
) -> None:
    """Wrong password, unknown, inactive, removed and empty logins each answer distinctly."""
    answer = login(trigon_http, email, password)
    assert (answer.status_code, error_code(answer)) == (status, code)


def test_refresh_rotates_and_reuse_revokes_the_family(trigon_http: httpx.Client) -> None:
    """A refresh kills the old token; presenting it again revokes every token of the login."""
    first = login(trigon_http).json()["refresh_token"]
    second = trigon_http.post("/auth/refresh", json={"refresh_token": first}).json()
    reuse = trigon_http.post("/auth/refresh", json={"refresh_token": first})
    assert (reuse.status_code, error_code(reuse)) == (401, "REFRESH_TOKEN_REVOKED")
    after = trigon_http.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert (after.status_code, error_code(after)) == (401, "REFRESH_TOKEN_REVOKED")


def test_refresh_errors(
    trigon_http: httpx.Client, sandbox_world: SandboxWorld, sandbox_clock: ManualClock
) -> None:
    """Unknown, expired, missing and deactivated-user refreshes answer as documented."""
    unknown = trigon_http.post("/auth/refresh", json={"refresh_token": "nope"})
    assert (unknown.status_code, error_code(unknown)) == (401, "REFRESH_TOKEN_INVALID")
    missing = trigon_http.post("/auth/refresh", json={})
    assert (missing.status_code, error_code(missing)) == (400, "VALIDATION_ERROR")

    token = login(trigon_http).json()["refresh_token"]
    sandbox_world.deactivate_user(SANDBOX_EMAIL)
    inactive = trigon_http.post("/auth/refresh", json={"refresh_token": token})
    assert (inactive.status_code, error_code(inactive)) == (403, "USER_INACTIVE")
    sandbox_world.set_user_active(SANDBOX_EMAIL, True)
    sandbox_world.set_user_removed(SANDBOX_EMAIL)
    removed = trigon_http.post("/auth/refresh", json={"refresh_token": token})
    assert (removed.status_code, error_code(removed)) == (403, "USER_REMOVED")
    sandbox_world.set_user_removed(SANDBOX_EMAIL, False)

    sandbox_clock.advance(30 * 24 * 3600 + 1)
    expired = trigon_http.post("/auth/refresh", json={"refresh_token": token})
    assert (expired.status_code, error_code(expired)) == (401, "REFRESH_TOKEN_EXPIRED")


def test_revoke_is_204_and_kills_the_refresh_token(trigon_http: httpx.Client) -> None:
    """Revoking answers 204 (even for unknown tokens) and the token cannot refresh afterwards."""
    token = login(trigon_http).json()["refresh_token"]
    assert trigon_http.post("/auth/revoke", json={"refresh_token": token}).status_code == 204
    assert trigon_http.post("/auth/revoke", json={"refresh_token": "unknown"}).status_code == 204
    answer = trigon_http.post("/auth/refresh", json={"refresh_token": token})
    assert error_code(answer) == "REFRESH_TOKEN_REVOKED"


def test_access_token_errors(
    trigon_http: httpx.Client, sandbox_world: SandboxWorld, sandbox_clock: ManualClock
) -> None:
    """Missing, unknown and expired (by TTL or by admin) access tokens answer 401 with codes."""
    assert error_code(trigon_http.get("/me")) == "ACCESS_TOKEN_MISSING"
    bad = trigon_http.get("/me", headers={"Authorization": "Bearer nope"})
    assert (bad.status_code, error_code(bad)) == (401, "ACCESS_TOKEN_INVALID")

    token = login(trigon_http).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert trigon_http.get("/me", headers=auth).status_code == 200
    sandbox_clock.advance(901)
    late = trigon_http.get("/me", headers=auth)
    assert (late.status_code, error_code(late)) == (401, "ACCESS_TOKEN_EXPIRED")

    fresh = {"Authorization": f"Bearer {login(trigon_http).json()['access_token']}"}
    sandbox_world.expire_access_tokens()
    assert error_code(trigon_http.get("/me", headers=fresh)) == "ACCESS_TOKEN_EXPIRED"


def test_admin_revocation_of_refresh_tokens(
    trigon_http: httpx.Client, sandbox_world: SandboxWorld
) -> None:
    """World.revoke_refresh_tokens makes every outstanding refresh token REVOKED."""
    token = login(trigon_http).json()["refresh_token"]
    assert sandbox_world.revoke_refresh_tokens() >= 1
    answer = trigon_http.post("/auth/refresh", json={"refresh_token": token})
    assert error_code(answer) == "REFRESH_TOKEN_REVOKED"


# -- firms and permissions --------------------------------------------------------------------


def test_me(trigon_authed: httpx.Client) -> None:
    """/me names the logged-in user."""
    assert trigon_authed.get("/me").json()["data"] == {
        "email": SANDBOX_EMAIL,
        "name": "Sandbox Admin",
        "active": True,
    }


def test_firms_are_paged_with_totals(
    trigon_authed: httpx.Client, sandbox_seed_dict: dict[str, Any]
) -> None:
    """Pages of 7 cover all 30 firms once; the pagination block carries totals."""
    seen: list[str] = []
    page = 1
    while True:
        body = trigon_authed.get("/firms", params={"page": page, "per_page": 7}).json()
        assert body["pagination"] == {"page": page, "per_page": 7, "total": 30, "total_pages": 5}
        if not body["data"]:
            break
        seen += [f["id"] for f in body["data"]]
        page += 1
    assert seen == [f["id"] for f in sandbox_seed_dict["trigon"]["firms"]]
    assert page == 6  # the page past the end is empty, not an error


@pytest.mark.parametrize("params", [{"per_page": 201}, {"page": 0}, {"per_page": "x"}])
def test_bad_paging_is_a_validation_error(trigon_authed: httpx.Client, params: dict) -> None:
    """per_page above 200, page 0 or a non-number answer 400 VALIDATION_ERROR naming it."""
    answer = trigon_authed.get("/firms", params=params)
    assert (answer.status_code, error_code(answer)) == (400, "VALIDATION_ERROR")
    assert set(answer.json()["error"]["details"]["fields"]) == set(params)


def test_firm_permissions_show_missing_view(
    trigon_authed: httpx.Client, sandbox_seed_dict: dict[str, Any]
) -> None:
    """Firms without View are listed with permissions ["list"]; the others with list+view."""
    no_view = set(sandbox_seed_dict["anomalies"]["no_view"])
    firms = trigon_authed.get("/firms", params={"per_page": 200}).json()["data"]
    assert {f["id"] for f in firms if f["permissions"] == ["list"]} == no_view
    assert all(f["permissions"] == ["list", "view"] for f in firms if f["id"] not in no_view)
    assert set(firms[0]) == {"id", "name", "registration_code", "vat_number", "permissions"}


def test_one_firm_and_unknown_firm(trigon_authed: httpx.Client) -> None:
    """GET /firms/{id} answers the firm; an unknown id is 404 FIRM_NOT_FOUND."""
    assert trigon_authed.get("/firms/f1").json()["data"]["id"] == "f1"
    answer = trigon_authed.get("/firms/f999")
    assert (answer.status_code, error_code(answer)) == (404, "FIRM_NOT_FOUND")


def test_view_revoked_then_restored(
    trigon_authed: httpx.Client, sandbox_world: SandboxWorld
) -> None:
    """Without View the data answers 403 FIRM_VIEW_FORBIDDEN; restoring View brings it back."""
    sandbox_world.revoke_view("f2")
    answer = trigon_authed.get("/firms/f2/payments/count", params=WINDOW)
    assert (answer.status_code, error_code(answer)) == (403, "FIRM_VIEW_FORBIDDEN")
    assert answer.json()["error"]["details"] == {"firm_id": "f2"}
    assert trigon_authed.get("/firms/f2").json()["data"]["permissions"] == ["list"]
    sandbox_world.restore_view("f2")
    assert trigon_authed.get("/firms/f2/payments/count", params=WINDOW).status_code == 200


def test_unlisted_and_removed_firms_are_not_found(
    trigon_authed: httpx.Client, sandbox_world: SandboxWorld
) -> None:
    """A firm the role may not List, or one removed from Trigon, is 404 FIRM_NOT_FOUND."""
    sandbox_world.set_permission("f3", list_=False)
    sandbox_world.remove_firm("f4")
    for firm in ("f3", "f4"):
        answer = trigon_authed.get(f"/firms/{firm}/payments/count", params=WINDOW)
        assert (answer.status_code, error_code(answer)) == (404, "FIRM_NOT_FOUND")
    ids = [f["id"] for f in trigon_authed.get("/firms", params={"per_page": 200}).json()["data"]]
    assert "f3" not in ids and "f4" not in ids


def test_added_firm_and_records_are_served(
    trigon_authed: httpx.Client, sandbox_world: SandboxWorld
) -> None:
    """Firms and records added to the world appear at once for users with a "*" grant."""
    sandbox_world.add_firm("new1", "Uus Firma OÜ", "10137319")
    sandbox_world.add_record("new1", "sales_invoice", "2024-10-05T10:00:00+03:00")
    answer = trigon_authed.get("/firms/new1/sales-invoices/count", params=WINDOW)
    assert answer.json() == {"data": {"count": 1}}


# -- record collections -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "collection",
    [
        "payments",
        "purchase-invoices",
        "sales-invoices",
        "financial-entries",
        "expense-lines",
        "depreciation-entries",
    ],
)
def test_every_collection_counts_and_lists_the_same_records(
    trigon_authed: httpx.Client, collection: str, firm: str
) -> None:
    """For each of the six collections /count equals the paged list's total for the window."""
    for params in (WINDOW, {"updated_from": "2024-10-01", "updated_to": "2025-03-31"}):
        count = trigon_authed.get(f"/firms/{firm}/{collection}/count", params=params).json()
        listed = trigon_authed.get(f"/firms/{firm}/{collection}", params=params).json()
        assert count["data"]["count"] == listed["pagination"]["total"]
        for row in listed["data"]:
            assert {"id", "created_at", "updated_at"} <= set(row)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"created_from": "2024-10-01"},
        {"created_from": "2024-10-31", "created_to": "2024-10-01"},
        {
            "created_from": "2024-10-01",
            "created_to": "2024-10-31",
            "updated_from": "2024-10-01",
            "updated_to": "2024-10-31",
        },
        {"created_from": "01.10.2024", "created_to": "2024-10-31"},
    ],
)
def test_count_window_validation(trigon_authed: httpx.Client, params: dict, firm: str) -> None:
    """No window, half a pair, from > to, both pairs or a non-ISO date is 400 VALIDATION_ERROR."""
    answer = trigon_authed.get(f"/firms/{firm}/payments/count", params=params)
    assert (answer.status_code, error_code(answer)) == (400, "VALIDATION_ERROR")


def test_unknown_collection_and_path(trigon_authed: httpx.Client, firm: str) -> None:
    """An unknown collection or path is 404 NOT_FOUND."""
    for path in (f"/firms/{firm}/invoices/count", "/nothing-here"):
        answer = trigon_authed.get(path, params=WINDOW)
        assert (answer.status_code, error_code(answer)) == (404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_to_data_endpoints_are_not_allowed(trigon_authed: httpx.Client, method: str) -> None:
    """Trigon is read-only for us: any write to a data endpoint is 405 METHOD_NOT_ALLOWED."""
    answer = trigon_authed.request(method, "/firms/f1/payments")
    assert (answer.status_code, error_code(answer)) == (405, "METHOD_NOT_ALLOWED")


def test_snapshots(trigon_authed: httpx.Client, sandbox_world: SandboxWorld) -> None:
    """Reporting persons and depreciable assets count as of the given date, ends inclusive."""
    sandbox_world.add_firm("snap", "Snap OÜ", "10137319")
    d = dt.date
    sandbox_world.trigon.persons["snap"] = [
        SeedReportingPerson("snap", d(2024, 1, 1), None),
        SeedReportingPerson("snap", d(2024, 1, 1), d(2024, 10, 30)),
        SeedReportingPerson("snap", d(2024, 10, 31), None),
    ]
    sandbox_world.trigon.assets["snap"] = [
        SeedFixedAsset("snap", d(2023, 5, 1), d(2024, 10, 30)),
        SeedFixedAsset("snap", d(2024, 10, 30), d(2027, 4, 30)),
    ]
    persons = trigon_authed.get(
        "/firms/snap/reporting-persons/count", params={"as_of": "2024-10-30"}
    )
    assets = trigon_authed.get(
        "/firms/snap/fixed-assets/count", params={"depreciable_on": "2024-10-30"}
    )
    assert persons.json() == {"data": {"count": 2}}
    assert assets.json() == {"data": {"count": 2}}
    missing = trigon_authed.get("/firms/snap/fixed-assets/count")
    assert (missing.status_code, error_code(missing)) == (400, "VALIDATION_ERROR")


def test_rate_limit_headers_on_every_answer(trigon_authed: httpx.Client) -> None:
    """Answers carry X-RateLimit-Limit/-Remaining/-Reset; Remaining falls per request."""
    first = trigon_authed.get("/me").headers
    second = trigon_authed.get("/me").headers
    assert first["X-RateLimit-Limit"] == "600"
    assert int(second["X-RateLimit-Remaining"]) == int(first["X-RateLimit-Remaining"]) - 1
    assert 1 <= int(second["X-RateLimit-Reset"]) <= 60
    assert "X-RateLimit-Tier" not in second
