"""The token lifecycle every Trigon call goes through (on the read-only wire, ``wire.py``).

:class:`TokenManager` keeps the access token in memory only and renews it when it has
expired or a call answers 401. Refresh tokens rotate, and presenting a rotated-away one
revokes the whole family, so renewal holds a file lock in the home directory across
read -> refresh -> store, saves the new refresh token *before* the new access token is
used, and never repeats a refresh POST that may have reached the server. When the store
cannot save it (a full disk), the token goes into room reserved before the refresh
(``store/pending_token.py``) and the next renewal takes it from there.

:class:`StaticKeyAuth` is the other way in: an ID token + API key generated in Trigon's
API settings, sent with every call. It is the ONE place that knows how those two values
travel (docs/trigon-api.md, "API-key mode", is our assumption: Trigon does not publish
it). Both classes answer :meth:`get`, so :class:`~trigon_sync.trigon.client.TrigonClient`
does not know which mode it runs in; :func:`make_auth` picks one from config.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import filelock

from trigon_sync.errors import (
    AuthError,
    BusyError,
    CredentialsError,
    SecretStoreError,
    ServiceUnavailable,
    StateError,
    UsageError,
    WriteUnconfirmed,
)
from trigon_sync.http.pacer import Clock
from trigon_sync.http.session import ApiResponse, RetryMode, unexpected
from trigon_sync.settings.config import TrigonAuthMode
from trigon_sync.store import home_safety, paths, pending_token
from trigon_sync.store.secrets import (
    TRIGON_API_KEY,
    TRIGON_ID_TOKEN,
    TRIGON_REFRESH_TOKEN,
    Secret,
    SecretStore,
    has_credentials,
)
from trigon_sync.trigon.models import TrigonUser, user_from_json
from trigon_sync.trigon.wire import TrigonWire

log = logging.getLogger(__name__)

ACCESS_TOKEN_ERRORS = frozenset(
    {"ACCESS_TOKEN_MISSING", "ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_INVALID"}
)
REFRESH_REJECTED = frozenset(
    {"REFRESH_TOKEN_EXPIRED", "REFRESH_TOKEN_REVOKED", "REFRESH_TOKEN_INVALID"}
)
EXPIRY_SKEW_SECONDS = 30.0
RECONNECT_HINT = "run `trigon-sync connect` again"

#: The store entries each mode keeps (what `disconnect` removes, what "connected" means).
# API-key mode on the wire (assumed, docs/trigon-api.md): two headers on every call.
ID_TOKEN_HEADER = "X-Trigon-Id-Token"
API_KEY_HEADER = "X-Trigon-Api-Key"


def token_lock_file() -> Path:
    """Guards read -> refresh -> store of the rotating refresh token across processes."""
    return paths.home_dir() / "trigon-token.lock"


@dataclass(frozen=True)
class AccessToken:
    """An access token and the (monotonic) moment after which we stop using it."""

    value: Secret
    expires_at: float


@dataclass(frozen=True)
class TokenGrant:
    """What login and refresh return: a fresh access token and the next refresh token."""

    access: AccessToken
    refresh: Secret
    user: TrigonUser | None


def _grant_from(response: ApiResponse, clock: Clock) -> TokenGrant:
    body = response.body if isinstance(response.body, Mapping) else {}
    try:
        access = Secret(str(body["access_token"]))
        refresh = Secret(str(body["refresh_token"]))
        expires_in = float(body.get("expires_in", 900))
    except (KeyError, TypeError, ValueError) as exc:
        raise unexpected("Trigon", response) from exc
    user = user_from_json(body["user"]) if isinstance(body.get("user"), Mapping) else None
    expires_at = clock() + max(0.0, expires_in - EXPIRY_SKEW_SECONDS)
    return TokenGrant(AccessToken(access, expires_at), refresh, user)


def _user_refused(code: str | None, email: str | None) -> CredentialsError | None:
    who = f"the Trigon user {email}" if email else "the connected Trigon user"
    if code == "USER_INACTIVE":
        return CredentialsError(
            f"{who} is inactive in Trigon",
            code=code,
            hint="ask a Trigon admin to reactivate the user, or connect with another user",
        )
    if code == "USER_REMOVED":
        return CredentialsError(
            f"{who} was removed from the Trigon organisation",
            code=code,
            hint="connect with a Trigon user that still belongs to the organisation",
        )
    return None


def login(
    wire: TrigonWire, email: str, password: str, *, clock: Clock = time.monotonic
) -> TokenGrant:
    """Exchange email + password for tokens; the password is not kept anywhere."""
    # A login changes nothing a repeat could double, so a 5xx is retried like a read and a
    # failure never reads "may already have taken effect".
    response = wire.auth_post(
        "/auth/login", {"email": email, "password": password}, retry=RetryMode.REPEATABLE
    )
    if response.ok:
        return _grant_from(response, clock)
    code = response.error_code
    if code == "INVALID_CREDENTIALS":
        raise CredentialsError(
            "Trigon refused the email or password",
            code=code,
            hint="try logging into Trigon directly with the same credentials",
        )
    refused = _user_refused(code, email)
    if refused is not None:
        raise refused
    if code == "VALIDATION_ERROR":
        raise UsageError("Trigon needs both an email and a password", hint=response.error_message)
    raise unexpected("Trigon", response)


def revoke(wire: TrigonWire, refresh: Secret) -> bool:
    """Ask Trigon to revoke a refresh token; False when Trigon did not confirm."""
    try:
        response = wire.auth_post("/auth/revoke", {"refresh_token": refresh.reveal()})
    except ServiceUnavailable:
        return False
    return response.ok


def expired_error() -> AuthError:
    return AuthError("the Trigon connection has expired or was revoked", hint=RECONNECT_HINT)


def not_connected_error() -> AuthError:
    return AuthError("trigon-sync is not connected to Trigon", hint="run `trigon-sync connect`")


class _Rejected(Exception):
    """Trigon refused the refresh token itself (expired, revoked or unknown)."""


class TokenManager:
    """Access token in memory; refresh token in the store; one renewal at a time."""

    proof = "renewed the access token"
    """What a successful call proves, for `doctor`."""

    def __init__(
        self,
        wire: TrigonWire,
        store: SecretStore,
        *,
        email: str | None = None,
        lock_path: Path | None = None,
        lock_timeout: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._wire = wire
        self._store = store
        self._email = email
        self._lock_path = lock_path
        self._lock_timeout = lock_timeout
        self._clock = clock
        self._mutex = threading.Lock()
        self._access: AccessToken | None = None
        self.refreshes = 0

    def _file_lock(self) -> filelock.BaseFileLock:
        path = home_safety.guard_write(self._lock_path or token_lock_file())
        paths.ensure_dir(path.parent)
        return filelock.FileLock(
            str(path), timeout=self._lock_timeout, mode=0o600, thread_local=False
        )

    def adopt(self, grant: TokenGrant) -> None:
        """After a login: store the refresh token (under the lock), then use the access one."""
        with self._mutex:
            try:
                with self._file_lock():
                    self._store.set(TRIGON_REFRESH_TOKEN, grant.refresh)
                    pending_token.clear()  # a kept token of the earlier login is stale now
                    with contextlib.suppress(OSError):
                        pending_token.reserve()  # room for the first renewal's fallback
            except filelock.Timeout as exc:
                raise self._busy() from exc
            self._access = grant.access

    def access_token(self) -> Secret:
        """A usable access token, renewing it first when it has expired."""
        with self._mutex:
            if self._access is None or self._clock() >= self._access.expires_at:
                self._renew()
            assert self._access is not None  # noqa: S101 - _renew sets it or raises
            return self._access.value

    def after_unauthorized(self, rejected: Secret) -> Secret:
        """A call answered 401 with ``rejected``: renew once (unless another thread did)."""
        with self._mutex:
            current = self._access
            if (
                current is not None
                and current.value != rejected
                and self._clock() < current.expires_at
            ):
                return current.value
            self._renew()
            assert self._access is not None  # noqa: S101
            return self._access.value

    def get(
        self, wire: TrigonWire, path: str, params: Mapping[str, Any] | None = None
    ) -> ApiResponse:
        """GET with the access token; on a token 401, renew once and repeat the call."""
        token = self.access_token()
        response = wire.get(path, headers=_bearer(token), params=params)
        if response.status == 401 and response.error_code in ACCESS_TOKEN_ERRORS:
            token = self.after_unauthorized(token)
            response = wire.get(path, headers=_bearer(token), params=params)
            if response.status == 401:
                raise AuthError(
                    "Trigon refused a freshly renewed access token", hint=RECONNECT_HINT
                )
        return response

    def _busy(self) -> BusyError:
        return BusyError(
            "another trigon-sync process is renewing the Trigon token and did not finish",
            hint="wait a minute and run again",
        )

    def _renew(self) -> None:
        try:
            with self._file_lock():
                stored, presented = self._recovered_token()
                self._reserve()
                try:
                    grant = self._refresh(presented)
                except _Rejected:
                    # Another process may have rotated the token: re-read before giving up.
                    current = self._store.get(TRIGON_REFRESH_TOKEN)
                    if current is None or current in (stored, presented):
                        raise expired_error() from None
                    try:
                        grant = self._refresh(current)
                    except _Rejected:
                        raise expired_error() from None
                    stored = current
                # Saved before the new access token is used: the old one is spent now.
                self._save_rotated(grant.refresh, stored)
        except filelock.Timeout as exc:
            raise self._busy() from exc
        self._access = grant.access
        self.refreshes += 1

    def _recovered_token(self) -> tuple[Secret, Secret]:
        """The stored refresh token and the one to present: the stored one, or its
        successor an earlier run kept in the reserved file because the store could not
        take it (pending_token.py)."""
        stored = self._store.get(TRIGON_REFRESH_TOKEN)
        kept = pending_token.read()
        if stored is None:
            pending_token.clear()  # disconnected since: a kept token is no one's login
            raise not_connected_error()
        if kept is None:
            return stored, stored
        if kept.replaces != pending_token.fingerprint(stored.reveal()):
            pending_token.clear()  # saved after all, or superseded by a new `connect`
            return stored, stored
        successor = Secret(kept.token)
        try:
            self._store.set(TRIGON_REFRESH_TOKEN, successor)
        except (OSError, SecretStoreError):
            return stored, successor  # still only in the reserved file; it stays there
        pending_token.clear()
        return successor, successor

    @staticmethod
    def _reserve() -> None:
        """Before anything is spent: the room :meth:`_save_rotated` falls back on."""
        try:
            pending_token.reserve()
        except OSError as exc:
            raise StateError(
                f"cannot reserve {pending_token.pending_file()} before renewing the Trigon "
                f"token ({exc.strerror or exc}); the stored login is unchanged and still valid",
                hint="free disk space or make the trigon-sync home writable, then run again",
            ) from exc

    def _save_rotated(self, new: Secret, stored: Secret) -> None:
        """Keep the rotated refresh token: in the store, else in the reserved file.

        The token presented is spent at Trigon now, so losing ``new`` would end the login.
        A kept token names the one the store still holds (``stored``, which may be older
        than the one presented when the store failed twice): that is how the next renewal
        knows it is the successor.
        When the store cannot take it (disk full, keyring refusing), it is written in place
        into the file reserved before the refresh, and the next renewal moves it into the
        store; only when that fails too is the login lost, and the error says so.
        """
        try:
            self._store.set(TRIGON_REFRESH_TOKEN, new)
        except (OSError, SecretStoreError) as exc:
            store_problem = _why(exc)
        else:
            pending_token.clear()
            return
        try:
            pending_token.keep(
                pending_token.Pending(new.reveal(), pending_token.fingerprint(stored.reveal()))
            )
        except (OSError, ValueError) as exc:
            raise AuthError(
                "Trigon renewed the login but the new refresh token could not be saved "
                f"(token store: {store_problem}; {pending_token.pending_file().name}: "
                f"{_why(exc)}), and the old one is now spent",
                hint="free disk space or fix the token store, then run `trigon-sync connect` again",
            ) from exc
        log.info(  # not a line of its own: a run on a full disk then fails with one line
            "the token store could not save the renewed Trigon refresh token (%s); it is kept "
            "in %s until the next run moves it into the store",
            store_problem,
            pending_token.pending_file(),
        )

    def _refresh(self, refresh: Secret) -> TokenGrant:
        try:
            response = self._wire.auth_post("/auth/refresh", {"refresh_token": refresh.reveal()})
        except WriteUnconfirmed as exc:
            # Trigon may have rotated the token and its answer was lost: the stored token
            # is then spent (presenting it again revokes the login, docs/trigon-api.md).
            raise ServiceUnavailable(
                f"{exc.message} (while renewing the Trigon access token)",
                hint="if Trigon did renew it, the stored login is now spent and the next run "
                "says so: then run `trigon-sync connect` again (where Trigon offers it, "
                "`connect --mode api-key` uses keys that never rotate, safer for cron)",
            ) from exc
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(
                f"{exc.message} (while renewing the Trigon access token)",
                hint="run again later; if it then says the connection expired, "
                "run `trigon-sync connect` again",
            ) from exc
        if response.ok:
            return _grant_from(response, self._clock)
        code = response.error_code
        if response.status == 401 and code in REFRESH_REJECTED:
            raise _Rejected(code)
        refused = _user_refused(code, self._email)
        if refused is not None:
            raise refused
        raise unexpected("Trigon", response, hint=RECONNECT_HINT)


def _why(exc: BaseException) -> str:
    """A failed save in a few words (never a secret: these errors name files, not values)."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, SecretStoreError):
        return exc.message
    return str(exc)


def _bearer(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.reveal()}"}


class TrigonAuth(Protocol):
    """How a Trigon GET is authorised; the client calls only this."""

    proof: str
    """What a successful call proves, in `doctor`'s words."""

    def get(
        self, wire: TrigonWire, path: str, params: Mapping[str, Any] | None = None
    ) -> ApiResponse: ...


def api_key_refused(code: str | None = None) -> AuthError:
    """A 401 in API-key mode: nothing to renew, the admin must connect again."""
    detail = f" ({code})" if code else ""
    return AuthError(
        f"Trigon refused the ID token and API key{detail}: the credentials were revoked "
        "or are wrong",
        hint="generate new ones in Trigon's API settings and run `trigon-sync connect` again",
    )


@dataclass(frozen=True)
class StaticKeyAuth:
    """ID token + API key sent with every GET; a 401 is final (no refresh exists)."""

    id_token: Secret
    api_key: Secret
    proof = "the ID token and API key were accepted"

    def headers(self) -> dict[str, str]:
        return {
            ID_TOKEN_HEADER: self.id_token.reveal(),
            API_KEY_HEADER: self.api_key.reveal(),
        }

    def get(
        self, wire: TrigonWire, path: str, params: Mapping[str, Any] | None = None
    ) -> ApiResponse:
        response = wire.get(path, headers=self.headers(), params=params)
        if response.status == 401:
            raise api_key_refused(response.error_code)
        refused = _user_refused(response.error_code, None) if response.status == 403 else None
        if refused is not None:
            raise refused
        return response

    def store(self, store: SecretStore) -> None:
        """Keep both values in the token store (after the connection test passed)."""
        store.set(TRIGON_ID_TOKEN, self.id_token)
        store.set(TRIGON_API_KEY, self.api_key)


def make_auth(
    mode: TrigonAuthMode,
    wire: TrigonWire,
    store: SecretStore,
    *,
    email: str | None = None,
) -> TrigonAuth:
    """The strategy config.toml's ``trigon.auth`` names; AuthError when nothing is stored."""
    if not has_credentials(store, mode):
        raise not_connected_error()
    if mode == "api-key":
        id_token, api_key = store.get(TRIGON_ID_TOKEN), store.get(TRIGON_API_KEY)
        assert id_token is not None and api_key is not None  # noqa: S101 - checked above
        return StaticKeyAuth(id_token, api_key)
    return TokenManager(wire, store, email=email)
