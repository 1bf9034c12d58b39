"""Finding an OS keyring backend that can really keep a secret, and calling it safely.

On a headless server or in cron there often is no keyring: keyring then answers with
its fail/null backend, or falls back to a plaintext one (priority < 1, e.g.
keyrings.alt). Both stop with :class:`NoKeyringBackend`, which explains the ways out,
unless the user selected that backend explicitly. :func:`with_timeout` runs a keyring
call in a daemon thread, because a locked collection can block forever and cron has
nobody to type the unlock password. ``secrets.KeyringStore`` is built on these.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from trigon_sync.errors import SecretStoreError
from trigon_sync.store import paths

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend  # imported lazily at run time (start-up cost)

T = TypeVar("T")


class NoKeyringBackend(SecretStoreError):
    """keyring has no real backend here; ``explanation`` is the few lines to show."""

    def __init__(self, backend: str, command: str = "connect") -> None:
        self.backend = backend
        self.explanation = no_keyring_explanation(backend, command)
        super().__init__(
            f"no OS keyring is available here (keyring backend: {backend})",
            hint=f"add --token-store file to `trigon-sync {command}` (tokens then go to "
            f"{paths.token_file()}, mode 0600), or select a keyring backend with "
            "PYTHON_KEYRING_BACKEND",
        )

    def for_command(self, command: str) -> NoKeyringBackend:
        """The same situation, its advice naming the command the admin ran (a hint to run
        ``connect`` after ``connect-uku`` failed sends them to the wrong command)."""
        return NoKeyringBackend(self.backend, command)


def no_keyring_explanation(backend: str, command: str = "connect") -> list[str]:
    """The situation and the two documented ways out, as lines for the CLI."""
    if backend.endswith((".fail.Keyring", ".null.Keyring")) or backend == "none":
        situation = f"There is no OS keyring here (keyring's active backend is {backend})."
    else:
        situation = (
            f"There is no secure OS keyring here: keyring only fell back to {backend}, "
            "which it does not recommend."
        )
    return [
        situation,
        "That is normal on servers and in cron jobs: no desktop session, no Secret Service.",
        "Choose one of:",
        "  (a) install a keyring backend and select it via PYTHON_KEYRING_BACKEND or keyring's "
        f"config file ({keyring_config_path()}); run `keyring --list-backends` to see them;",
        f"  (b) connect with `trigon-sync {command} --token-store file`: the refresh token and "
        "API key go to "
        f"{paths.token_file()} (mode 0600). Less safe: anyone who can read that file can use "
        "the connection. The choice is remembered in config.toml (trigon.token_store) so cron "
        "uses the same store.",
    ]


def keyring_config_path() -> Path:
    """keyring's own config file (``[backend] default-keyring = ...``)."""
    import keyring.util.platform_ as platform_

    return Path(platform_.config_root()) / "keyringrc.cfg"


def qualified(obj: object) -> str:
    """A backend's full class name, as PYTHON_KEYRING_BACKEND and keyring's config name it."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _explicitly_selected(backend: object) -> bool:
    """True when the user chose this backend (env var or keyring's config file)."""
    name = qualified(backend)
    if os.environ.get("PYTHON_KEYRING_BACKEND", "").strip() == name:
        return True
    import configparser  # only a keyring store asks; a file store's status never does

    parser = configparser.RawConfigParser()
    try:
        parser.read(keyring_config_path(), encoding="utf-8")
        chosen = parser.get("backend", "default-keyring", fallback="")
    except (OSError, configparser.Error):
        return False
    return chosen.strip() == name


def usable_backend() -> KeyringBackend:
    """The active keyring backend, or NoKeyringBackend when it cannot keep a secret."""
    import keyring
    import keyring.backends.fail
    import keyring.backends.null
    import keyring.core

    try:
        backend = keyring.get_keyring()
    except (ImportError, AttributeError, ValueError) as exc:
        # keyring loads PYTHON_KEYRING_BACKEND / its config file lazily, on first use.
        raise SecretStoreError(
            f"the keyring backend selected for keyring cannot be loaded ({exc})",
            hint="fix PYTHON_KEYRING_BACKEND or keyring's config file "
            "(`keyring --list-backends` shows what is installed)",
        ) from exc
    if isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring):
        raise NoKeyringBackend(qualified(backend))
    if not keyring.core.recommended(backend) and not _explicitly_selected(backend):
        raise NoKeyringBackend(qualified(backend))
    return backend


def with_timeout(call: Callable[[], T], *, timeout: float, what: str) -> T:
    """Run a keyring call in a daemon thread so a hung keyring cannot block cron."""
    values: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            values.append(call())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"keyring-{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise SecretStoreError(
            f"the OS keyring did not answer within {timeout:g} s while trying to {what}",
            hint="the keyring may be locked: unlock it, select another backend, or connect "
            "with `trigon-sync connect --token-store file`",
        )
    if errors:
        raise errors[0]
    return values[0]
