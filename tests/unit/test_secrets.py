"""The secret store: keyring when it is real, an explicit 0600 file otherwise."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest
from keyrings.alt.file import PlaintextKeyring

from trigon_sync.errors import SecretStoreError
from trigon_sync.store import paths
from trigon_sync.store.keyring_backend import NoKeyringBackend
from trigon_sync.store.secrets import (
    SERVICE_NAME,
    FileStore,
    KeyringStore,
    Secret,
    describe_store,
    keyring_account,
    open_store,
)


class HangingKeyring(keyring.backend.KeyringBackend):
    """A keyring whose calls block, like a locked collection waiting for a prompt."""

    priority = 1  # type: ignore[assignment]  # keyring declares priority a classproperty
    release = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.release.wait(5)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.release.wait(5)

    def delete_password(self, service: str, username: str) -> None:
        self.release.wait(5)


class LockedKeyring(keyring.backend.KeyringBackend):
    """A keyring that reports it is locked."""

    priority = 1  # type: ignore[assignment]  # keyring declares priority a classproperty

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


def test_secret_repr_and_str_are_masked() -> None:
    """A Secret never shows its value in repr, str or f-strings."""
    secret = Secret("s3cr3t-value")
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in f"{secret} {[secret]} { ({'k': secret}) }"
    assert secret.reveal() == "s3cr3t-value"


def test_keyring_store_round_trip_uses_the_service_name(memory_keyring) -> None:
    """Secrets go to the keyring under service 'trigon-sync', one entry per name."""
    store = KeyringStore()
    store.set("trigon-refresh-token", Secret("rt-1"))
    account = keyring_account("trigon-refresh-token")
    assert memory_keyring.secrets == {(SERVICE_NAME, account): "rt-1"}
    assert store.get("trigon-refresh-token") == Secret("rt-1")
    assert store.delete("trigon-refresh-token") is True
    assert store.delete("trigon-refresh-token") is False
    assert store.get("trigon-refresh-token") is None


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring, keyring.backends.null.Keyring])
def test_fail_and_null_backends_explain_the_ways_out(backend: type) -> None:
    """Without a real keyring the error explains it and offers both documented options."""
    keyring.set_keyring(backend())
    with pytest.raises(NoKeyringBackend) as caught:
        KeyringStore().set("trigon-refresh-token", Secret("test-refresh-token"))
    text = "\n".join(caught.value.explanation)
    assert "PYTHON_KEYRING_BACKEND" in text
    assert "--token-store file" in text
    assert str(paths.token_file()) in text
    assert "less safe" in text.lower()
    assert caught.value.exit_code == SecretStoreError.exit_code


def test_a_plaintext_fallback_keyring_is_refused_unless_selected(monkeypatch, tmp_path) -> None:
    """keyrings.alt's plaintext file is not silently used; selecting it explicitly works."""
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "kr.cfg")  # type: ignore[misc]  # keyrings.alt's file_path is a read-only property in its stubs
    keyring.set_keyring(backend)
    with pytest.raises(NoKeyringBackend):
        KeyringStore().get("x")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    KeyringStore().set("x", Secret("test-secret-value"))
    assert KeyringStore().get("x") == Secret("test-secret-value")


def test_a_hanging_keyring_times_out_instead_of_blocking_cron() -> None:
    """A keyring call that does not return within the timeout raises SecretStoreError."""
    keyring.set_keyring(HangingKeyring())
    try:
        with pytest.raises(SecretStoreError, match=r"did not answer within 0\.2 s"):
            KeyringStore(timeout=0.2).get("trigon-refresh-token")
    finally:
        HangingKeyring.release.set()


def test_a_locked_keyring_is_a_store_error() -> None:
    """A locked keyring is reported with the way out, not as a crash."""
    keyring.set_keyring(LockedKeyring())
    with pytest.raises(SecretStoreError, match="locked"):
        KeyringStore().get("trigon-refresh-token")


def test_file_store_writes_an_atomic_0600_toml(isolated_home: Path) -> None:
    """The file store keeps secrets in tokens.toml with mode 0600 and removes it when empty."""
    store = open_store("file")
    assert isinstance(store, FileStore)
    store.set("trigon-refresh-token", Secret("rt-1"))
    store.set("uku-api-key", Secret("key-1"))
    path = paths.token_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileStore(path).get("uku-api-key") == Secret("key-1")
    assert not list(path.parent.glob(".tokens.*"))
    assert store.delete("trigon-refresh-token") is True
    assert store.delete("uku-api-key") is True
    assert not path.exists()


def test_corrupt_token_file_is_a_clear_error(isolated_home: Path) -> None:
    """A damaged tokens.toml names the file and the way out."""
    isolated_home.mkdir(parents=True)
    paths.token_file().write_text("secrets = [", encoding="utf-8")
    with pytest.raises(SecretStoreError, match=r"tokens.toml is corrupt"):
        FileStore().get("trigon-refresh-token")


def test_unknown_store_kind_is_rejected() -> None:
    """Only 'keyring' and 'file' are stores."""
    with pytest.raises(SecretStoreError, match="unknown token store"):
        open_store("vault")


def test_describe_store_reports_backend_and_problems(isolated_home: Path) -> None:
    """status/doctor learn which store is used and whether it works, without secrets."""
    working = describe_store("keyring")
    assert working.usable and "MemoryKeyring" in working.location
    keyring.set_keyring(keyring.backends.fail.Keyring())
    broken = describe_store("keyring")
    assert not broken.usable and "no OS keyring" in str(broken)
    FileStore().set("x", Secret("test-secret-value"))
    assert describe_store("file").usable
    paths.token_file().chmod(0o644)
    assert "chmod 600" in str(describe_store("file"))


def test_two_homes_keep_separate_keyring_entries(memory_keyring, monkeypatch, tmp_path) -> None:
    """Connecting a second home never replaces the first home's token in the shared keyring."""
    monkeypatch.setenv(paths.ENV_HOME, str(tmp_path / "firm-a"))
    KeyringStore().set("trigon-refresh-token", Secret("token-a"))
    monkeypatch.setenv(paths.ENV_HOME, str(tmp_path / "firm-b"))
    KeyringStore().set("trigon-refresh-token", Secret("token-b"))
    assert KeyringStore().get("trigon-refresh-token") == Secret("token-b")
    monkeypatch.setenv(paths.ENV_HOME, str(tmp_path / "firm-a"))
    assert KeyringStore().get("trigon-refresh-token") == Secret("token-a")
    assert len(memory_keyring.secrets) == 2


def test_file_store_writers_in_two_processes_never_lose_each_others_secret(
    isolated_home: Path,
) -> None:
    """Two processes writing different secrets at once both keep theirs (no lost update).

    connect-uku storing the API key while cron rotates the Trigon refresh token must not
    put the spent refresh token back: presenting it would revoke the whole connection.
    Two FileStore objects stand for the two processes (each has its own in-process lock).
    """
    path = paths.token_file()
    first, second = FileStore(path), FileStore(path)
    rounds = 20
    start, done = threading.Barrier(2), threading.Barrier(2)
    lost: list[str] = []

    def writer(store: FileStore, name: str) -> None:
        for i in range(rounds):
            start.wait()
            store.set(name, Secret(f"{name}-{i}"))
            done.wait()
            if store.get(name) != Secret(f"{name}-{i}"):
                lost.append(f"{name} in round {i}")

    threads = [
        threading.Thread(target=writer, args=(first, "trigon-refresh-token")),
        threading.Thread(target=writer, args=(second, "uku-api-key")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lost == []


def test_a_misspelt_keyring_backend_is_a_clear_store_error(monkeypatch) -> None:
    """PYTHON_KEYRING_BACKEND naming a missing module is explained, not an unexpected error."""
    import keyring.core

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "bogus_module.Backend")
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    with pytest.raises(SecretStoreError) as caught:
        KeyringStore().get("trigon-refresh-token")
    assert "PYTHON_KEYRING_BACKEND" in str(caught.value)


def test_reading_the_file_store_masks_every_secret_in_it_not_just_the_one_asked(
    tmp_path: Path,
) -> None:
    """A Trigon-only command reads only Trigon's token, yet an answer may quote the Uku key
    (a shared proxy's error page, a misrouted header): every stored value is masked."""
    from trigon_sync import redact

    path = tmp_path / "tokens.toml"
    FileStore(path).set("uku-api-key", Secret("uku-key-value-1"))
    redact.forget_all()  # a new process: nothing registered yet
    assert FileStore(path).get("trigon-refresh-token") is None
    assert redact.scrub("echo: uku-key-value-1") == f"echo: {redact.MASK}"
