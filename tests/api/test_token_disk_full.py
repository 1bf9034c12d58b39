"""A full disk during the Trigon token renewal never costs the login (issue 21, item 4).

Each test is a few nights of runs, each a fresh process's TokenManager against the
sandbox's Trigon, which rotates refresh tokens and spends the old one as the real service
does (presenting a spent one revokes the whole login). The disk fills at the OS calls
(tests/disk_full.py); the token store itself is the product's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import keyring.errors
import pytest

from tests.conftest import MemoryKeyring
from tests.disk_full import FullDisk
from trigon_sync.errors import AuthError, StateError
from trigon_sync.http.pacer import RateLimitPacer
from trigon_sync.http.session import HttpSession, RetryPolicy, make_client
from trigon_sync.sandbox import SANDBOX_EMAIL, SANDBOX_PASSWORD
from trigon_sync.store import paths, pending_token
from trigon_sync.store.secrets import (
    TRIGON_REFRESH_TOKEN,
    FileStore,
    KeyringStore,
    SecretStore,
)
from trigon_sync.trigon import TokenManager, TrigonClient, TrigonWire, login

BASE = "http://trigon.test/v1"


class RefusingKeyring(MemoryKeyring):
    """An OS keyring that cannot write while ``refusing`` (its own disk is full)."""

    refusing = False

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.refusing:
            raise keyring.errors.PasswordSetError("No space left on device")
        super().set_password(service, username, password)


@pytest.fixture
def disk(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> FullDisk:
    return FullDisk(isolated_home, monkeypatch)


@pytest.fixture
def refusing_keyring() -> Iterator[RefusingKeyring]:
    previous = keyring.get_keyring()
    backend = RefusingKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@dataclass
class Night:
    """One run: a new process's token manager and client, nothing in memory."""

    wire: TrigonWire
    tokens: TokenManager

    @property
    def client(self) -> TrigonClient:
        return TrigonClient(self.wire, self.tokens)

    def me(self) -> str:
        return self.client.me().email


@pytest.fixture
def nights(trigon_app: Any, asgi_transport: Any) -> Callable[[SecretStore], Callable[[], Night]]:
    """``nights(store)()`` starts one run against the in-process sandbox Trigon."""

    def for_store(store: SecretStore) -> Callable[[], Night]:
        def night() -> Night:
            session = HttpSession(
                make_client(BASE, transport=asgi_transport(trigon_app)),
                service="Trigon",
                policy=RetryPolicy(jitter=lambda: 0.0),
                pacer=RateLimitPacer(sleep=lambda _s: None),
                sleep=lambda _s: None,
            )
            wire = TrigonWire(session)
            return Night(wire, TokenManager(wire, store, email=SANDBOX_EMAIL))

        return night

    return for_store


def connect(night: Callable[[], Night]) -> None:
    """What `connect` does: log in, keep the refresh token."""
    run = night()
    run.tokens.adopt(login(run.wire, SANDBOX_EMAIL, SANDBOX_PASSWORD))


def still_unused_at_trigon(trigon_app: Any, asgi_transport: Any, token: str) -> bool:
    """Whether Trigon still takes ``token`` (a presented one would be refused as spent)."""
    with httpx.Client(transport=asgi_transport(trigon_app), base_url=BASE) as http:
        answer = http.post("/auth/refresh", json={"refresh_token": token})
    return answer.status_code == 200


@pytest.mark.parametrize("kind", ["file", "keyring"])
def test_a_full_disk_during_renewal_keeps_the_login_for_the_next_run(
    kind: str,
    nights: Callable[[SecretStore], Callable[[], Night]],
    disk: FullDisk,
    refusing_keyring: RefusingKeyring,
) -> None:
    """The store cannot save the rotated token: the run still works, and once space is back
    the next run renews from the kept token, without `connect`."""
    store: SecretStore = FileStore(paths.token_file()) if kind == "file" else KeyringStore()
    night = nights(store)
    connect(night)
    spent = store.get(TRIGON_REFRESH_TOKEN)
    disk.fill()
    refusing_keyring.refusing = True
    assert night().me() == SANDBOX_EMAIL  # rotated at Trigon; the store refused it
    assert disk.refused or kind == "keyring"
    assert store.get(TRIGON_REFRESH_TOKEN) == spent  # the store still holds the spent one
    assert pending_token.read() is not None
    disk.free()
    refusing_keyring.refusing = False
    assert night().me() == SANDBOX_EMAIL  # no `connect` in between
    assert store.get(TRIGON_REFRESH_TOKEN) != spent
    assert pending_token.read() is None  # moved into the store, blanked in place
    assert night().client.list_firms()  # and the login keeps rotating normally


def test_two_failed_saves_in_a_row_still_recover(
    nights: Callable[[SecretStore], Callable[[], Night]], disk: FullDisk
) -> None:
    """Night 2 renews from the kept token and cannot save again: night 3 still recovers."""
    night = nights(FileStore(paths.token_file()))
    connect(night)
    disk.fill()
    night().me()
    night().me()
    disk.free()
    assert night().me() == SANDBOX_EMAIL


def test_a_full_disk_before_the_reservation_spends_nothing(
    nights: Callable[[SecretStore], Callable[[], Night]], disk: FullDisk
) -> None:
    """No reserved file and no room for one: the refresh is never sent, the login stays."""
    store = FileStore(paths.token_file())
    night = nights(store)
    connect(night)
    pending_token.pending_file().unlink()  # a home from before the reservation existed
    stored = store.get(TRIGON_REFRESH_TOKEN)
    disk.fill()
    with pytest.raises(StateError, match="stored login is unchanged and still valid"):
        night().me()
    disk.free()
    assert store.get(TRIGON_REFRESH_TOKEN) == stored
    assert night().me() == SANDBOX_EMAIL


def test_when_nothing_can_be_saved_the_error_says_the_login_is_spent(
    nights: Callable[[SecretStore], Callable[[], Night]], disk: FullDisk
) -> None:
    """A copy-on-write file system refuses even the reserved bytes: one precise line."""
    night = nights(FileStore(paths.token_file()))
    connect(night)
    disk.fill(copy_on_write=True)
    with pytest.raises(AuthError) as caught:
        night().me()
    text = str(caught.value)
    assert "new refresh token could not be saved" in text
    assert "the old one is now spent" in text
    assert "run `trigon-sync connect` again" in text
    assert "\n" not in text


def test_a_new_connect_makes_a_kept_token_stale(
    nights: Callable[[SecretStore], Callable[[], Night]],
    disk: FullDisk,
    trigon_app: Any,
    asgi_transport: Any,
) -> None:
    """A token kept from the old login is never presented after `connect` made a new one."""
    store = FileStore(paths.token_file())
    night = nights(store)
    connect(night)
    disk.fill()
    night().me()
    kept = pending_token.read()
    assert kept is not None
    disk.free()
    connect(night)
    assert pending_token.read() is None
    assert night().me() == SANDBOX_EMAIL
    assert still_unused_at_trigon(trigon_app, asgi_transport, kept.token)  # never presented
