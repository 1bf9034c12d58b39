"""The Trigon client: reads, paging, typed errors and the token lifecycle."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import httpx
import pytest

from trigon_sync.errors import AuthError, CredentialsError, ServiceUnavailable
from trigon_sync.http.pacer import RateLimitPacer
from trigon_sync.http.session import HttpSession, RetryPolicy, make_client
from trigon_sync.sandbox import SANDBOX_EMAIL, SANDBOX_PASSWORD
from trigon_sync.store.secrets import TRIGON_REFRESH_TOKEN, FileStore, Secret
from trigon_sync.trigon import (
    FirmNotFound,
    FirmNotViewable,
    TokenManager,
    TrigonClient,
    TrigonWire,
    login,
    revoke,
)
from trigon_sync.trigon.models import COLLECTIONS, EVENTS, SNAPSHOT_KINDS
from trigon_sync.trigon.wire import ReadOnlyViolation

BASE = "http://trigon.test/v1"
PASSWORD = "correct horse"


class FakeTrigon:
    """A tiny in-memory Trigon for precise token interleavings (the sandbox covers the rest)."""

    def __init__(self, n_firms: int = 3) -> None:
        self.ids = itertools.count(1)
        self.access: set[str] = set()
        self.refresh: dict[str, str] = {}  # token -> family
        self.spent: dict[str, str] = {}
        self.revoked_families: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.refresh_status: int | None = None
        self.user_state = "active"
        self.firms = [
            {
                "id": f"f{i}",
                "name": f"Firm {i} OÜ",
                "registration_code": f"1000000{i}",
                "vat_number": None,
                "permissions": ["list", "view"] if i != 2 else ["list"],
            }
            for i in range(1, n_firms + 1)
        ]

    def _tokens(self, family: str) -> dict:
        access, refresh = f"at-{next(self.ids)}", f"rt-{next(self.ids)}"
        self.access.add(access)
        self.refresh[refresh] = family
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": 900,
            "user": {"email": "admin@firm.ee", "name": "Admin"},
        }

    def expire_access_tokens(self) -> None:
        self.access.clear()

    @staticmethod
    def error(status: int, code: str) -> httpx.Response:
        return httpx.Response(
            status, json={"error": {"code": code, "message": code, "details": None}}
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        self.requests.append((request.method, path))
        if request.method == "POST":
            body = json.loads(request.content)
            if path == "/auth/login":
                if body.get("password") != PASSWORD:
                    return self.error(401, "INVALID_CREDENTIALS")
                if self.user_state != "active":
                    return self.error(403, f"USER_{self.user_state.upper()}")
                return httpx.Response(200, json=self._tokens(f"fam-{next(self.ids)}"))
            if path == "/auth/refresh":
                if self.refresh_status:
                    return self.error(self.refresh_status, "UNAVAILABLE")
                token = body["refresh_token"]
                if token in self.spent:
                    self.revoked_families.add(self.spent[token])
                    return self.error(401, "REFRESH_TOKEN_REVOKED")
                family = self.refresh.pop(token, None)
                if family is None:
                    return self.error(401, "REFRESH_TOKEN_INVALID")
                if family in self.revoked_families:
                    return self.error(401, "REFRESH_TOKEN_REVOKED")
                self.spent[token] = family
                return httpx.Response(200, json=self._tokens(family))
            if path == "/auth/revoke":
                family = self.refresh.pop(body["refresh_token"], None)
                if family:
                    self.revoked_families.add(family)
                return httpx.Response(204)
            return self.error(405, "METHOD_NOT_ALLOWED")
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.access:
            return self.error(401, "ACCESS_TOKEN_EXPIRED")
        if path == "/me":
            return httpx.Response(
                200, json={"data": {"email": "admin@firm.ee", "name": "Admin", "active": True}}
            )
        if path == "/firms":
            page, per_page = int(request.url.params["page"]), int(request.url.params["per_page"])
            chunk = self.firms[(page - 1) * per_page : page * per_page]
            pages = -(-len(self.firms) // per_page)
            return httpx.Response(
                200,
                json={
                    "data": chunk,
                    "pagination": {
                        "page": page,
                        "per_page": per_page,
                        "total": len(self.firms),
                        "total_pages": pages,
                    },
                },
            )
        parts = path.strip("/").split("/")
        firm = next((f for f in self.firms if f["id"] == parts[1]), None)
        if firm is None:
            return self.error(404, "FIRM_NOT_FOUND")
        if len(parts) == 2:
            return httpx.Response(200, json={"data": firm})
        if "view" not in firm["permissions"]:
            return self.error(403, "FIRM_VIEW_FORBIDDEN")
        return httpx.Response(200, json={"data": {"count": len(str(request.url.params))}})


def wire_for(fake: FakeTrigon) -> TrigonWire:
    session = HttpSession(
        make_client(BASE, transport=httpx.MockTransport(fake)),
        service="Trigon",
        policy=RetryPolicy(jitter=lambda: 0.0),
        pacer=RateLimitPacer(sleep=lambda _s: None),
        sleep=lambda _s: None,
    )
    return TrigonWire(session)


def connected(fake: FakeTrigon, store: FileStore, lock: Path) -> TrigonClient:
    wire = wire_for(fake)
    tokens = TokenManager(wire, store, lock_path=lock)
    tokens.adopt(login(wire, "admin@firm.ee", PASSWORD))
    return TrigonClient(wire, tokens)


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "tokens.toml")


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    return tmp_path / "token.lock"


def test_reads_firms_across_pages_and_counts(store: FileStore, lock: Path) -> None:
    """list_firms follows every page; count sends the created_* pair as ISO dates."""
    fake = FakeTrigon(n_firms=450)
    client = connected(fake, store, lock)
    firms = client.list_firms()
    assert len(firms) == 450 and firms[0].viewable and not firms[1].viewable
    assert [p for m, p in fake.requests if p == "/firms"] == ["/firms"] * 3
    assert (
        client.count("f1", "sales-invoices", "created", dt.date(2024, 10, 1), dt.date(2024, 10, 30))
        > 0
    )
    assert client.snapshot("f1", "fixed-assets", dt.date(2024, 10, 30)) > 0
    assert client.me().email == "admin@firm.ee"


def test_view_and_not_found_errors_carry_the_firm(store: FileStore, lock: Path) -> None:
    """403 FIRM_VIEW_FORBIDDEN and 404 FIRM_NOT_FOUND become typed errors naming the firm."""
    client = connected(FakeTrigon(), store, lock)
    with pytest.raises(FirmNotViewable) as no_view:
        client.count("f2", "payments", "updated", dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert no_view.value.firm_id == "f2" and "View" in str(no_view.value)
    with pytest.raises(FirmNotFound) as missing:
        client.get_firm("f99")
    assert missing.value.firm_id == "f99"


def test_expired_access_token_is_refreshed_once_and_the_call_continues(
    store: FileStore, lock: Path
) -> None:
    """A 401 mid-run triggers one refresh; the new refresh token is stored; the call succeeds."""
    fake = FakeTrigon()
    client = connected(fake, store, lock)
    first = store.get(TRIGON_REFRESH_TOKEN)
    fake.expire_access_tokens()
    assert client.me().name == "Admin"
    assert [p for _, p in fake.requests].count("/auth/refresh") == 1
    assert store.get(TRIGON_REFRESH_TOKEN) not in (None, first)


def test_expired_clock_refreshes_before_calling(store: FileStore, lock: Path) -> None:
    """When the access token's lifetime has run out, it is renewed before the request."""
    fake = FakeTrigon()
    now = [0.0]
    wire = wire_for(fake)
    tokens = TokenManager(wire, store, lock_path=lock, clock=lambda: now[0])
    tokens.adopt(login(wire, "admin@firm.ee", PASSWORD, clock=lambda: now[0]))
    client = TrigonClient(wire, tokens)
    now[0] = 10_000.0
    client.me()
    assert [p for _, p in fake.requests] == ["/auth/login", "/auth/refresh", "/me"]


def test_rotation_by_a_second_process_is_picked_up(store: FileStore, lock: Path) -> None:
    """Process B rotates the token; process A's renewal reads the new one from the store."""
    fake = FakeTrigon()
    a = connected(fake, store, lock)
    b_wire = wire_for(fake)
    b = TrigonClient(b_wire, TokenManager(b_wire, store, lock_path=lock))
    b.me()  # B has no access token: it renews, rotating the stored refresh token
    fake.expire_access_tokens()
    assert a.me().email == "admin@firm.ee"
    assert not fake.revoked_families


def test_refused_refresh_token_is_re_read_before_giving_up(store: FileStore, lock: Path) -> None:
    """If Trigon refuses the token read, a changed token in the store is tried before failing."""
    fake = FakeTrigon()
    client = connected(fake, store, lock)

    class StaleOnce:
        """Serves an outdated token on the first read, like a write racing our read."""

        kind = "file"
        served = False

        def get(self, name: str) -> Secret | None:
            if not self.served:
                self.served = True
                return Secret("rt-outdated")
            return store.get(name)

        def set(self, name: str, value: Secret) -> None:
            store.set(name, value)

        def delete(self, name: str) -> bool:
            return store.delete(name)

    client._tokens._store = StaleOnce()  # type: ignore[attr-defined]  # swaps in a store that goes stale once
    fake.expire_access_tokens()
    assert client.me().email == "admin@firm.ee"
    assert [p for _, p in fake.requests].count("/auth/refresh") == 2


def test_revoked_refresh_token_asks_to_connect_again(store: FileStore, lock: Path) -> None:
    """A revoked family stops with the 'connect again' message and the AUTH exit code."""
    fake = FakeTrigon()
    client = connected(fake, store, lock)
    assert revoke(wire_for(fake), store.get(TRIGON_REFRESH_TOKEN))  # type: ignore[arg-type]  # the token was stored just above
    fake.expire_access_tokens()
    with pytest.raises(AuthError, match="expired or was revoked") as caught:
        client.me()
    assert "trigon-sync connect" in (caught.value.hint or "")


def test_refresh_post_is_never_repeated_after_5xx(store: FileStore, lock: Path) -> None:
    """A 503 to the refresh POST is not retried: the old token may already be spent."""
    fake = FakeTrigon()
    client = connected(fake, store, lock)
    fake.expire_access_tokens()
    fake.refresh_status = 503
    with pytest.raises(ServiceUnavailable, match="renewing the Trigon access token") as caught:
        client.me()
    assert [p for _, p in fake.requests].count("/auth/refresh") == 1
    # the login may be spent now: the hint says what happens next and the sturdier mode
    assert "--mode api-key" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("state", "password", "code", "text"),
    [
        ("active", "wrong", "INVALID_CREDENTIALS", "refused the email or password"),
        ("inactive", PASSWORD, "USER_INACTIVE", "is inactive"),
        ("removed", PASSWORD, "USER_REMOVED", "was removed"),
    ],
)
def test_login_failures_are_distinct(state: str, password: str, code: str, text: str) -> None:
    """Each login refusal has its own code and message."""
    fake = FakeTrigon()
    fake.user_state = state
    with pytest.raises(CredentialsError, match=text) as caught:
        login(wire_for(fake), "admin@firm.ee", password)
    assert caught.value.code == code


def test_the_wire_refuses_anything_but_get_and_auth_posts() -> None:
    """Writes to Trigon are impossible even from inside the package."""
    fake = FakeTrigon()
    wire = wire_for(fake)
    for method, path in [
        ("POST", "/firms"),
        ("DELETE", "/firms/f1"),
        ("PATCH", "/me"),
        ("PUT", "/auth/login"),
    ]:
        with pytest.raises(ReadOnlyViolation):
            wire._send(method, path)
    assert fake.requests == []


# -- against the sandbox (in-process and over a socket) --------------------------------

SANDBOX_BASE = "http://trigon.test/v1"


def sandbox_client(
    transport: httpx.BaseTransport, store: FileStore, lock: Path, base_url: str = SANDBOX_BASE
) -> TrigonClient:
    session = HttpSession(
        make_client(base_url, transport=transport),
        service="Trigon",
        policy=RetryPolicy(jitter=lambda: 0.0, max_attempts=8),
        pacer=RateLimitPacer(sleep=lambda _s: None),
        sleep=lambda _s: None,
    )
    wire = TrigonWire(session)
    tokens = TokenManager(wire, store, lock_path=lock)
    tokens.adopt(login(wire, SANDBOX_EMAIL, SANDBOX_PASSWORD))
    return TrigonClient(wire, tokens)


@pytest.fixture
def in_process(trigon_app, asgi_transport, store: FileStore, lock: Path) -> TrigonClient:
    return sandbox_client(asgi_transport(trigon_app), store, lock)


def test_every_public_method_sends_only_gets_and_auth_posts(
    in_process: TrigonClient, sandbox_world
) -> None:
    """Driving the whole public API (incl. a renewal) reaches the sandbox only via GET/auth."""
    day = dt.date(2024, 10, 31)
    firms = in_process.list_firms()
    viewable = next(f for f in firms if f.viewable)
    in_process.me()
    in_process.reach()
    in_process.get_firm(viewable.id)
    for collection in COLLECTIONS:
        for event in EVENTS:
            in_process.count(viewable.id, collection, event, dt.date(2024, 10, 1), day)
    for kind in SNAPSHOT_KINDS:
        in_process.snapshot(viewable.id, kind, day)
    assert in_process.answer("firms", viewable.id, "fixed-assets", "count").status == 400
    sandbox_world.expire_access_tokens()
    in_process.me()
    assert in_process.answer("me").ok
    seen = {(r["method"], r["path"]) for r in sandbox_world.requests("trigon")}
    writes = {(m, p) for m, p in seen if m != "GET"}
    assert writes == {("POST", "/v1/auth/login"), ("POST", "/v1/auth/refresh")}
    public = [n for n in dir(TrigonClient) if not n.startswith("_")]
    assert sorted(public) == [
        "answer",
        "auth_proof",
        "base_url",
        "close",
        "count",
        "get_firm",
        "list_firms",
        "me",
        "reach",
        "snapshot",
        "stats",
    ]


def test_sandbox_counts_and_permissions(in_process: TrigonClient) -> None:
    """Seeded firms without View raise FirmNotViewable; readable ones give counts."""
    firms = in_process.list_firms()
    hidden = [f for f in firms if not f.viewable]
    assert len(hidden) == 2
    with pytest.raises(FirmNotViewable):
        in_process.count(
            hidden[0].id, "payments", "created", dt.date(2024, 9, 1), dt.date(2025, 6, 30)
        )
    total = sum(
        in_process.count(
            f.id, "sales-invoices", "created", dt.date(2024, 9, 1), dt.date(2025, 6, 30)
        )
        for f in firms
        if f.viewable
    )
    assert total > 0
    with pytest.raises(FirmNotFound):
        in_process.get_firm("no-such-firm")


def test_sandbox_expiry_mid_run_refreshes_once(
    in_process: TrigonClient, sandbox_world, store: FileStore
) -> None:
    """Access tokens expiring mid-run cost one refresh; the run continues."""
    before = store.get(TRIGON_REFRESH_TOKEN)
    firms = in_process.list_firms()
    sandbox_world.expire_access_tokens()
    for firm in firms[:5]:
        in_process.get_firm(firm.id)
    refreshes = [r for r in sandbox_world.requests("trigon") if r["path"] == "/v1/auth/refresh"]
    assert len(refreshes) == 1
    assert store.get(TRIGON_REFRESH_TOKEN) != before


def test_sandbox_rotation_by_another_process(
    trigon_app, asgi_transport, sandbox_world, store: FileStore, lock: Path
) -> None:
    """A second process rotating the refresh token does not break the first one."""
    first = sandbox_client(asgi_transport(trigon_app), store, lock)
    wire = TrigonWire(
        HttpSession(
            make_client(SANDBOX_BASE, transport=asgi_transport(trigon_app)), service="Trigon"
        )
    )
    second = TrigonClient(wire, TokenManager(wire, store, lock_path=lock))
    second.me()  # renews: rotates the stored refresh token
    sandbox_world.expire_access_tokens()
    assert first.me().email == SANDBOX_EMAIL
    assert second.list_firms()


def test_sandbox_revoked_connection_says_connect_again(
    in_process: TrigonClient, sandbox_world
) -> None:
    """Revoked refresh tokens stop the run with the AUTH exit code and 'connect again'."""
    sandbox_world.revoke_refresh_tokens()
    sandbox_world.expire_access_tokens()
    with pytest.raises(AuthError, match="expired or was revoked") as caught:
        in_process.me()
    assert caught.value.exit_code == 4


def test_sandbox_faults_are_survived_by_gets(
    sandbox_world, asgi_transport, store: FileStore, lock: Path
) -> None:
    """With 5xx, 429, drops and bad JSON on a third of GETs, every read still succeeds."""
    from trigon_sync.sandbox import FaultConfig, make_trigon_app

    faults = FaultConfig(
        seed=3,
        error_rate=0.15,
        rate_limit_burst_rate=0.05,
        drop_rate=0.05,
        malformed_json_rate=0.05,
        retry_after_seconds=1,
        exempt_paths=("/v1/auth/",),
    )
    client = sandbox_client(asgi_transport(make_trigon_app(sandbox_world, faults)), store, lock)
    firms = client.list_firms()
    for firm in firms:
        client.get_firm(firm.id)
    assert client.stats.retries > 0
    assert client.stats.by_method["GET"] > len(firms)


def test_over_a_real_socket(
    sandbox_server, sandbox_seed_dict: dict, store: FileStore, lock: Path
) -> None:
    """The same client works against the sandbox served on 127.0.0.1."""
    client = sandbox_client(None, store, lock, base_url=sandbox_server.trigon_url)
    with client:
        assert len(client.list_firms()) == len(sandbox_seed_dict["trigon"]["firms"])
        assert client.me().email == SANDBOX_EMAIL


def test_threads_share_one_renewal(in_process: TrigonClient, sandbox_world) -> None:
    """Eight threads hitting an expired token mid-run cause exactly one refresh."""
    from concurrent.futures import ThreadPoolExecutor

    firms = [f for f in in_process.list_firms() if f.viewable]
    sandbox_world.expire_access_tokens()

    def work(firm_id: str) -> int:
        return in_process.count(
            firm_id, "payments", "created", dt.date(2024, 9, 1), dt.date(2025, 6, 30)
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(work, [f.id for f in firms]))
    assert len(counts) == len(firms)
    refreshes = [r for r in sandbox_world.requests("trigon") if r["path"] == "/v1/auth/refresh"]
    assert len(refreshes) == 1


def test_a_login_that_keeps_failing_is_never_called_possibly_effective() -> None:
    """A 503 to login is retried (a repeat doubles nothing) and the error says it kept
    failing, never 'may already have taken effect'."""

    def down(request: httpx.Request) -> httpx.Response:
        return FakeTrigon.error(503, "UNAVAILABLE")

    calls: list[str] = []

    def counting(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return down(request)

    session = HttpSession(
        make_client(BASE, transport=httpx.MockTransport(counting)),
        service="Trigon",
        policy=RetryPolicy(jitter=lambda: 0.0, max_attempts=3),
        pacer=RateLimitPacer(sleep=lambda _s: None),
        sleep=lambda _s: None,
    )
    with pytest.raises(ServiceUnavailable) as caught:
        login(TrigonWire(session), "admin@firm.ee", PASSWORD)
    assert "may already have taken effect" not in str(caught.value)
    assert "kept failing" in str(caught.value)
    assert len(calls) == 3


@pytest.mark.parametrize("password", ["Sõber-äöü ÕÄÖÜ", "pääsuke", "šokk-žürii"])
def test_the_sandbox_takes_a_non_ascii_password(
    trigon_app, asgi_transport, sandbox_world, store: FileStore, lock: Path, password: str
) -> None:
    """A user whose password has õ, ä, ö, ü logs in; a wrong non-ASCII one is refused (401)."""
    sandbox_world.trigon.users[SANDBOX_EMAIL].password = password
    session = HttpSession(
        make_client(SANDBOX_BASE, transport=asgi_transport(trigon_app)),
        service="Trigon",
        policy=RetryPolicy(jitter=lambda: 0.0, max_attempts=2),
        pacer=RateLimitPacer(sleep=lambda _s: None),
        sleep=lambda _s: None,
    )
    wire = TrigonWire(session)
    assert login(wire, SANDBOX_EMAIL, password).refresh.reveal()
    with pytest.raises(CredentialsError):
        login(wire, SANDBOX_EMAIL, password + "õ")
