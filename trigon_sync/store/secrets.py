"""Where the Trigon refresh token and the Uku API key live; never where they are shown.

Two stores share one small protocol (get / set / delete by name):

* :class:`KeyringStore` — the OS keyring through ``keyring`` (Keychain, Credential
  Locker, Secret Service). On a headless server or in cron there often is none: keyring
  then answers with its fail/null backend, and we stop with :class:`NoKeyringBackend`,
  which explains the ways out instead of crashing or silently storing nowhere. A
  plaintext backend that keyring merely fell back to (priority < 1, e.g. keyrings.alt) is
  treated the same unless the user selected it explicitly. Every keyring call runs in a
  daemon thread with a timeout, because a locked collection can block forever and cron
  has nobody to type the unlock password (both in ``keyring_backend.py``).
* :class:`FileStore` — the explicit opt-in ``--token-store file``: a TOML file in the
  home directory, written atomically with mode 0600.

Secrets travel as :class:`Secret` so that an accidental ``repr``/log line shows a mask,
and each one registers with :mod:`trigon_sync.redact` so server text quoting it is
scrubbed before it is shown or stored.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from trigon_sync import redact
from trigon_sync.errors import SecretStoreError
from trigon_sync.store import home_safety, paths, toml_read
from trigon_sync.store.keyring_backend import (
    NoKeyringBackend,
    qualified,
    usable_backend,
    with_timeout,
)

if TYPE_CHECKING:
    from trigon_sync.settings.config import TrigonAuthMode

SERVICE_NAME = "trigon-sync"
TRIGON_REFRESH_TOKEN = "trigon-refresh-token"
TRIGON_ID_TOKEN = "trigon-id-token"
TRIGON_API_KEY = "trigon-api-key"
UKU_API_KEY = "uku-api-key"
DEFAULT_KEYRING_TIMEOUT = 10.0
FILE_LOCK_TIMEOUT = 30.0

StoreKind = Literal["keyring", "file"]
STORE_KINDS: tuple[StoreKind, ...] = ("keyring", "file")

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend  # imported lazily at run time (start-up cost)

T = TypeVar("T")


class Secret:
    """A secret string whose ``repr``/``str`` never reveal it; call :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        self._value = value
        redact.register(value)  # every secret the process holds is scrubbed from output

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SecretStore(Protocol):
    """A named-secret store; ``kind`` is what config.toml records as trigon.token_store."""

    kind: StoreKind

    def get(self, name: str) -> Secret | None: ...

    def set(self, name: str, value: Secret) -> None: ...

    def delete(self, name: str) -> bool:
        """Remove ``name``; False when there was nothing to remove."""
        ...


def keyring_account(name: str, home: Path | None = None) -> str:
    """The keyring account for one secret of one home directory.

    The OS keyring is shared by every trigon-sync home of the user (one per accounting
    firm, say). Without the home in the account name, connecting a second home would
    silently replace the first one's token, and the first would then read Trigon as the
    second's user.
    """
    return f"{name}@{(home or paths.home_dir()).expanduser().absolute()}"


class KeyringStore:
    """Secrets in the OS keyring under service ``trigon-sync``, one entry per name and home."""

    kind: StoreKind = "keyring"

    def __init__(
        self, *, service: str = SERVICE_NAME, timeout: float = DEFAULT_KEYRING_TIMEOUT
    ) -> None:
        self.service = service
        self.timeout = timeout

    def _run(self, what: str, op: Callable[[KeyringBackend], T]) -> T:
        import keyring.errors

        def call() -> T:
            return op(usable_backend())

        try:
            return with_timeout(call, timeout=self.timeout, what=what)
        except keyring.errors.NoKeyringError as exc:
            raise NoKeyringBackend("none") from exc
        except keyring.errors.KeyringLocked as exc:
            raise SecretStoreError(
                f"the OS keyring is locked; cannot {what}",
                hint="unlock it, or connect with `trigon-sync connect --token-store file`",
            ) from exc
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(
                f"the OS keyring failed to {what}: {type(exc).__name__}",
                hint="check the keyring, or connect with `trigon-sync connect --token-store file`",
            ) from exc

    def check(self) -> str:
        """The backend's name; raises when there is no usable keyring."""
        return self._run("find a keyring backend", qualified)

    def get(self, name: str) -> Secret | None:
        value = self._run(
            "read a secret",
            lambda backend: backend.get_password(self.service, keyring_account(name)),
        )
        return Secret(value) if value else None

    def set(self, name: str, value: Secret) -> None:
        self._run(
            "store a secret",
            lambda backend: backend.set_password(
                self.service, keyring_account(name), value.reveal()
            ),
        )

    def delete(self, name: str) -> bool:
        import keyring.errors

        def op(backend: KeyringBackend) -> bool:
            try:
                backend.delete_password(self.service, keyring_account(name))
            except keyring.errors.PasswordDeleteError:
                return False
            return True

        return self._run("delete a secret", op)


class FileStore:
    """Secrets in a 0600 TOML file (``[secrets]`` table); the opt-in for keyring-less hosts."""

    kind: StoreKind = "file"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.token_file()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise read-modify-write across threads *and* processes.

        Without the file lock, connect-uku storing the API key while cron rotates the
        Trigon refresh token could write back the spent refresh token, and presenting
        that one revokes the whole connection.
        """
        import filelock

        home_safety.guard_write(Path(f"{self.path}.lock"))
        paths.ensure_dir(self.path.parent)
        lock = filelock.FileLock(
            f"{self.path}.lock", timeout=FILE_LOCK_TIMEOUT, mode=0o600, thread_local=False
        )
        with self._lock:
            try:
                lock.acquire()
            except filelock.Timeout as exc:
                raise SecretStoreError(
                    f"another trigon-sync process kept the token file {self.path} locked",
                    hint="wait a minute and run again",
                ) from exc
            try:
                yield
            finally:
                lock.release()

    def _read(self) -> dict[str, str]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretStoreError(
                f"cannot read the token file {self.path}: {exc.strerror}",
                hint="check its owner and permissions (it should be 0600)",
            ) from exc
        try:
            data = toml_read.loads(raw.decode("utf-8"))
        except (toml_read.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SecretStoreError(
                f"the token file {self.path} is corrupt",
                hint="run `trigon-sync disconnect` and connect again, or delete the file",
            ) from exc
        table = data.get("secrets", {})
        secrets = {k: v for k, v in table.items() if isinstance(v, str)}
        for value in secrets.values():
            # All of them, not just the one asked for: a server may echo a credential of
            # the other service (a misrouted header, a shared proxy's error page).
            redact.register(value)
        return secrets

    def _write(self, secrets: dict[str, str]) -> None:
        home_safety.guard_write(self.path)
        directory = self.path.parent
        paths.ensure_dir(directory)
        import tomli_w  # a write's modules: reading the store (status) never needs them

        from trigon_sync.store import atomic

        with atomic.replacing(self.path) as handle:
            handle.write(b"# trigon-sync secrets (--token-store file). Keep this file private.\n")
            handle.write(tomli_w.dumps({"secrets": secrets}).encode("utf-8"))

    def get(self, name: str) -> Secret | None:
        value = self._read().get(name)
        return Secret(value) if value else None

    def set(self, name: str, value: Secret) -> None:
        with self._exclusive():
            secrets = self._read()
            secrets[name] = value.reveal()
            self._write(secrets)

    def delete(self, name: str) -> bool:
        with self._exclusive():
            secrets = self._read()
            if name not in secrets:
                return False
            del secrets[name]
            if secrets:
                self._write(secrets)
            else:
                self.path.unlink(missing_ok=True)
            return True


def open_store(kind: str = "keyring", *, keyring_timeout: float | None = None) -> SecretStore:
    """The store config.toml names (``trigon.token_store``): the one place a kind becomes
    a store. ``keyring_timeout`` bounds each keyring call (``status`` waits less than a run)."""
    if kind == "keyring":
        if keyring_timeout is not None:
            return KeyringStore(timeout=keyring_timeout)
        return KeyringStore()
    if kind == "file":
        return FileStore(paths.token_file())
    raise SecretStoreError(
        f"unknown token store {kind!r}", hint="use `keyring` or `file` (trigon.token_store)"
    )


@dataclass(frozen=True)
class StoreDescription:
    """What `status`/`doctor` show about the secret store; never a secret value."""

    kind: StoreKind
    location: str
    usable: bool
    problem: str | None = None

    def __str__(self) -> str:
        text = f"{self.kind} ({self.location})"
        return text if self.usable else f"{text}: {self.problem}"


def describe_store(kind: str = "keyring", *, store: SecretStore | None = None) -> StoreDescription:
    """Which store is in use and whether it works, probing the keyring (with a timeout).

    Pass ``store`` to describe the very store the caller will read (with its timeout)
    instead of opening a second one.
    """
    store = store or open_store(kind)
    if isinstance(store, FileStore):
        exists = store.path.exists()
        problem = None
        if exists and store.path.stat().st_mode & 0o077:
            problem = "the token file is readable by other users; chmod 600 it"
        return StoreDescription("file", str(store.path), usable=problem is None, problem=problem)
    assert isinstance(store, KeyringStore)  # noqa: S101 - open_store only returns these two
    try:
        backend = store.check()
    except SecretStoreError as exc:
        return StoreDescription("keyring", f"service {store.service!r}", False, exc.message)
    return StoreDescription("keyring", f"{backend}, service {store.service!r}", True)


STORED_SECRETS: dict[TrigonAuthMode, tuple[str, ...]] = {
    "password": (TRIGON_REFRESH_TOKEN,),
    "api-key": (TRIGON_ID_TOKEN, TRIGON_API_KEY),
}
"""What each ``trigon.auth`` mode keeps in the store (kept here, beside the names, so that
``status`` can tell "connected" without importing the HTTP stack)."""


def has_credentials(store: SecretStore, mode: TrigonAuthMode) -> bool:
    """Whether the store holds everything ``mode`` needs (what "connected" means)."""
    return all(store.get(name) is not None for name in STORED_SECRETS[mode])
