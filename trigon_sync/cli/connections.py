"""Build the Trigon and Uku clients from config.toml and the secret store.

Every command that talks to an API starts here, so "not connected yet" is one clear
error everywhere and tests can inject a transport (in-process sandbox, MockTransport)
for both services without patching.
"""

from __future__ import annotations

import threading
import time

import httpx

from trigon_sync.errors import AuthError
from trigon_sync.http.pacer import RateLimitPacer, Sleep
from trigon_sync.http.session import HttpSession, RetryPolicy, make_client
from trigon_sync.settings.config import Config
from trigon_sync.store.secrets import UKU_API_KEY, Secret, SecretStore, open_store
from trigon_sync.trigon import TrigonClient, TrigonWire, make_auth
from trigon_sync.trigon.auth import has_credentials, not_connected_error
from trigon_sync.uku import UkuClient
from trigon_sync.uku.client import uku_tier


def secret_store(config: Config) -> SecretStore:
    """The store config.toml names (``trigon.token_store``), shared by both services."""
    return open_store(config.trigon.token_store)


def trigon_wire(
    base_url: str,
    *,
    transport: httpx.BaseTransport | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
    hint: str | None = None,
    stop: threading.Event | None = None,
) -> TrigonWire:
    """The read-only wire to Trigon at ``base_url`` (used directly by `connect`).

    ``hint`` replaces the "check config.toml" advice where the URL came from elsewhere
    (`connect --trigon-url`, or the built-in default before config.toml exists).
    """
    session = HttpSession(
        make_client(base_url, transport=transport),
        service="Trigon",
        hint=hint
        or f"check the network and trigon.base_url in config.toml ({base_url}); "
        "running again is safe",
        policy=policy,
        pacer=RateLimitPacer(sleep=sleep),
        sleep=sleep,
        stop=stop,
    )
    return TrigonWire(session)


def trigon_client(
    config: Config,
    store: SecretStore | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
    stop: threading.Event | None = None,
) -> TrigonClient:
    """A client for the connected Trigon user; AuthError when `connect` has not been run."""
    store = store or secret_store(config)
    mode = config.trigon.auth
    if not has_credentials(store, mode):
        raise not_connected_error()
    wire = trigon_wire(
        config.trigon.base_url, transport=transport, policy=policy, sleep=sleep, stop=stop
    )
    return TrigonClient(wire, make_auth(mode, wire, store, email=config.trigon.email))


def make_uku_client(
    base_url: str,
    company: str,
    api_key: Secret,
    *,
    transport: httpx.BaseTransport | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
    hint: str | None = None,
    stop: threading.Event | None = None,
) -> UkuClient:
    """An Uku client for explicit settings (used by `connect-uku` before saving them)."""
    session = HttpSession(
        make_client(base_url, transport=transport),
        service="Uku",
        hint=hint
        or f"check the network and uku.base_url in config.toml ({base_url}); running again is safe",
        policy=policy,
        pacer=RateLimitPacer(tier_of=uku_tier, sleep=sleep),
        sleep=sleep,
        stop=stop,
    )
    return UkuClient(session, api_key=api_key.reveal(), company=company)


def uku_client(
    config: Config,
    store: SecretStore | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = time.sleep,
    stop: threading.Event | None = None,
) -> UkuClient:
    """A client for the configured Uku company; AuthError when `connect-uku` is missing."""
    store = store or secret_store(config)
    key = store.get(UKU_API_KEY)
    if key is None or not config.uku.company:
        raise AuthError("trigon-sync is not connected to Uku", hint="run `trigon-sync connect-uku`")
    return make_uku_client(
        config.uku.base_url,
        config.uku.company,
        key,
        transport=transport,
        policy=policy,
        sleep=sleep,
        stop=stop,
    )
