"""What the connect commands read from the admin: options, prompts, secrets, the token store.

Shared by ``connect``, ``connect-uku`` and ``disconnect``. Each check fails with a typed
:class:`~trigon_sync.errors.UsageError` before anything secret is asked for or sent, and a
secret read here is registered with :mod:`~trigon_sync.redact` at once.
"""

from __future__ import annotations

import typer

from trigon_sync import redact
from trigon_sync.cli import output
from trigon_sync.errors import ConfigError, UsageError
from trigon_sync.http.session import RetryPolicy
from trigon_sync.settings.checks import parse_config
from trigon_sync.settings.config import TRIGON_DEFAULT_URL, UKU_DEFAULT_URL, Config
from trigon_sync.store import paths
from trigon_sync.store.keyring_backend import NoKeyringBackend
from trigon_sync.store.secrets import STORE_KINDS, KeyringStore, SecretStore, open_store

_EXAMPLE_URL = {"trigon": TRIGON_DEFAULT_URL, "uku": UKU_DEFAULT_URL}

# Someone is waiting at the terminal: fail fast rather than back off for long.
# A host that cannot be connected to fails at the first attempt (one connect timeout).
INTERACTIVE_POLICY = RetryPolicy(max_attempts=3, unreachable_attempts=1, silent_attempts=1)


def store_kind(option: str | None, config: Config) -> str:
    """``--token-store``, else config's; a typo is refused."""
    kind = option or config.trigon.token_store
    if kind not in STORE_KINDS:
        raise UsageError(f"--token-store must be 'keyring' or 'file', not {kind!r}")
    return kind


def usable_store(kind: str, command: str) -> SecretStore:
    """Open the store and make sure it works before anything secret is asked for.

    Without a keyring the one ``error:`` line says what to add to ``command`` (the
    README promises one line; docs/operations.md explains the choice at length)."""
    store = open_store(kind)
    if isinstance(store, KeyringStore):
        try:
            store.check()
        except NoKeyringBackend as exc:
            raise exc.for_command(command) from None
    return store


def file_store_note(store: SecretStore) -> None:
    """Said once a connection is stored in the token file, never before: a refused or
    failed connect stored nothing, and its one line is the error."""
    if not isinstance(store, KeyringStore):
        output.line(
            f"note: tokens are kept in {paths.token_file()} (mode 0600) — less safe than an "
            "OS keyring: anyone who can read that file can use the connection."
        )


def checked_url(section: str, url: str | None, config: Config) -> str:
    """The URL to use; a bad one fails before any request, naming the option it came from
    (it was typed on the command line: config.toml may not even exist yet)."""
    if url is None:
        return config.trigon.base_url if section == "trigon" else config.uku.base_url
    try:
        parse_config({section: {"base_url": url}}, config.path)
    except ConfigError as exc:
        problems = "; ".join(problem.message for problem in exc.problems)
        raise UsageError(
            f"--{section}-url: {problems}",
            hint=f"pass the service's API address, e.g. --{section}-url {_EXAMPLE_URL[section]}",
        ) from None
    return url.rstrip("/")


def read_secret(*, from_stdin: bool, prompt: str, option: str) -> str:
    """A secret from one line of stdin or a hidden prompt; never echoed, never empty."""
    value = _read_secret_text(from_stdin=from_stdin, prompt=prompt, option=option)
    redact.register(value)  # scrubbed from anything a server echoes back
    return value


def _read_secret_text(*, from_stdin: bool, prompt: str, option: str) -> str:
    if from_stdin:
        try:
            value = typer.get_text_stream("stdin").readline().rstrip("\r\n")
        except UnicodeDecodeError:
            raise UsageError(
                f"{option}: stdin is not UTF-8 text", hint="pipe the value in as UTF-8"
            ) from None
        if not value:
            raise UsageError(f"{option} was given but stdin had no line to read")
        return value
    if not output.is_interactive():
        raise UsageError(
            f"no terminal to ask for the {prompt.lower()} on", hint=f"pipe it in with {option}"
        )
    value = output.ask_text(prompt, hidden=True)
    if not value:
        raise UsageError(f"the {prompt.lower()} must not be empty")
    return value


def ask(value: str | None, prompt: str, option: str) -> str:
    """``value`` when given, else asked on a terminal (without one, the option is needed)."""
    if value:
        return value
    if not output.is_interactive():
        raise UsageError(f"{option} is needed (no terminal to ask on)")
    return output.ask_text(prompt).strip()


def header_token(value: str) -> bool:
    """Whether ``value`` is visible ASCII only, as API keys and company ids are.

    Anything else cannot travel in an HTTP header: httpx would fail with a
    UnicodeEncodeError naming a character of the key, or a protocol error that
    reads like a network outage.
    """
    return bool(value) and all("!" <= char <= "~" for char in value)


def url_hint(option: str) -> str:
    """Nothing is saved before the check passes, so the fix is the option, not config.toml."""
    return f"check the network and the URL; pass {option} URL to use another server"
