"""`connect`: the Trigon connection an admin sets up once.

Trigon connects in one of two modes (Uku's help page exists in both versions):
``password``: the password is asked with a hidden prompt (or read from stdin for
automation), used for one login call and dropped; only the refresh token is stored.
``api-key``: the ID token and API key from Trigon's API settings are asked the same way,
tested with one call and stored. Each failure has its own message and exit code, raised
as typed errors for the boundary to report. ``connect-uku`` (offered at the end on a
terminal) is in ``connect_uku_cmd.py``, ``disconnect`` in ``disconnect_cmd.py``.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from trigon_sync.cli import output
from trigon_sync.cli.connect_inputs import (
    INTERACTIVE_POLICY,
    ask,
    checked_url,
    file_store_note,
    header_token,
    read_secret,
    store_kind,
    url_hint,
    usable_store,
)
from trigon_sync.cli.connect_uku_cmd import connect_uku
from trigon_sync.cli.connections import trigon_client, trigon_wire
from trigon_sync.errors import PartialFailure, TrigonSyncError, UsageError
from trigon_sync.settings.config import TRIGON_AUTH_MODES, TRIGON_ENVIRONMENT_URLS, Config
from trigon_sync.store.config_file import edit_config, load_config
from trigon_sync.store.secrets import (
    TRIGON_API_KEY,
    TRIGON_ID_TOKEN,
    TRIGON_REFRESH_TOKEN,
    UKU_API_KEY,
    Secret,
    SecretStore,
    describe_store,
)
from trigon_sync.trigon import StaticKeyAuth, TokenManager, TrigonClient, login, revoke
from trigon_sync.trigon.client import reach_problem
from trigon_sync.trigon.models import Reach

CONNECT_EXAMPLE = (
    "Example: trigon-sync connect --email admin@firm.ee --token-store file\n\n"
    "With an ID token and API key: trigon-sync connect --mode api-key --environment test\n\n"
    "Automation: printf '%s\\n' \"$PASSWORD\" | trigon-sync connect --email admin@firm.ee "
    "--password-stdin\n\n"
    'printf \'%s\\n%s\\n\' "$ID_TOKEN" "$API_KEY" | trigon-sync connect --mode api-key '
    "--credentials-stdin"
)


def _render_reach(reach: Reach, *, as_json: bool) -> None:
    if as_json:
        output.print_json(
            {
                "firms": [
                    {
                        "id": f.id,
                        "name": f.name,
                        "registration_code": f.registration_code,
                        "viewable": f.viewable,
                    }
                    for f in reach.firms
                ],
                "listed": len(reach.firms),
                "viewable": len(reach.viewable),
                "not_viewable": [f.id for f in reach.not_viewable],
            }
        )
        return
    if reach.firms:
        table = Table(title="Firms the Trigon user can reach")
        for column in ("Trigon id", "Name", "Registration code", "List", "View"):
            table.add_column(column)
        for firm in reach.firms:
            table.add_row(
                output.safe(firm.id),
                output.safe(firm.name),
                output.safe(firm.registration_code or "—"),
                "✓",
                "✓" if firm.viewable else "[red]✗ no View[/red]",
            )
        output.stdout.print(table)
    output.stdout.print(reach.summary(), markup=False)


def _uku_connected(config: Config, store: SecretStore) -> bool:
    return bool(config.uku.company) and store.get(UKU_API_KEY) is not None


def _mode(option: str | None, *, password_hint: bool, key_hint: bool, config: Config) -> str:
    """``--mode``, else what the other options imply, else asked on a terminal."""
    if option is not None:
        if option not in TRIGON_AUTH_MODES:
            raise UsageError(f"--mode must be 'password' or 'api-key', not {option!r}")
        if (option == "api-key" and password_hint) or (option == "password" and key_hint):
            raise UsageError(
                "--email/--password-stdin belong to --mode password, "
                "--credentials-stdin to --mode api-key"
            )
        return option
    if password_hint and key_hint:
        raise UsageError("give either --password-stdin (or --email) or --credentials-stdin")
    if password_hint:
        return "password"
    if key_hint:
        return "api-key"
    if not output.is_interactive():
        return config.trigon.auth
    answer = output.ask_text(
        "Connect to Trigon with 'password' (email and password) or 'api-key' (ID token "
        "and API key from Trigon's API settings)",
        default=config.trigon.auth,
    ).strip()
    if answer not in TRIGON_AUTH_MODES:
        raise UsageError(f"answer 'password' or 'api-key', not {answer!r}")
    return answer


def _target(
    url: str | None, environment: str | None, config: Config
) -> tuple[str, str, str | None]:
    """(base URL, environment, base_url to save): an explicit URL wins over the environment."""
    if environment is not None and environment not in TRIGON_ENVIRONMENT_URLS:
        raise UsageError(f"--environment must be 'production' or 'test', not {environment!r}")
    env = environment or config.trigon.environment
    if url is not None:
        checked = checked_url("trigon", url, config)
        return checked, env, checked
    if environment is None or _configured_url(config):
        if environment is not None:
            output.stderr.print(
                f"note: trigon.base_url in config.toml ({config.trigon.base_url}) wins over "
                f"--environment {environment}; pass --trigon-url to change it.",
                markup=False,
            )
        saved = config.trigon.base_url if _configured_url(config) else None
        return config.trigon.base_url, env, saved
    return TRIGON_ENVIRONMENT_URLS[env], env, None


def _configured_url(config: Config) -> bool:
    """Whether config.toml names a Trigon URL other than its environment's own."""
    return config.trigon.base_url != TRIGON_ENVIRONMENT_URLS[config.trigon.environment]


def _api_credentials(*, from_stdin: bool) -> StaticKeyAuth:
    """The ID token and API key: two lines of stdin, or two hidden prompts."""
    names = ("ID token", "API key")
    if from_stdin:
        stream = typer.get_text_stream("stdin")  # one stream: a second one would miss line 2
        texts = [stream.readline().strip() for _ in names]
        if not all(texts):
            raise UsageError(
                "--credentials-stdin needs two lines on stdin: the ID token, then the API key"
            )
    else:
        texts = [
            read_secret(from_stdin=False, prompt=f"Trigon {n}", option="--credentials-stdin")
            for n in names
        ]
    for name, text in zip(names, texts, strict=True):
        if not header_token(text.strip()):
            raise UsageError(
                f"the {name} contains spaces, control or non-ASCII characters",
                hint="copy it again from Trigon's API settings",
            )
    auth = StaticKeyAuth(Secret(texts[0].strip()), Secret(texts[1].strip()))
    del texts
    return auth


def _save_trigon(
    *, mode: str, email: str | None, saved_url: str | None, environment: str, kind: str
) -> None:
    """Record the connection in config.toml; defaults are left out (None removes a key)."""
    with edit_config() as raw:
        section = raw.setdefault("trigon", {})
        section.update(
            {
                "email": email,
                "base_url": saved_url,
                "token_store": kind,
                "auth": None if mode == "password" else mode,
                "environment": None if environment == "production" else environment,
            }
        )


def connect(
    mode: str | None = typer.Option(
        None,
        "--mode",
        metavar="password|api-key",
        help="How Trigon is connected: a user's email + password, or an ID token + API key "
        "from Trigon's API settings (default: asked on a terminal, else config).",
    ),
    email: str | None = typer.Option(None, "--email", help="The Trigon user's email."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from one line of stdin."
    ),
    credentials_stdin: bool = typer.Option(
        False,
        "--credentials-stdin",
        help="api-key mode: read the ID token, then the API key, one line each from stdin.",
    ),
    environment: str | None = typer.Option(
        None,
        "--environment",
        metavar="production|test",
        help="Trigon's live service or its test environment (sets the base URL).",
    ),
    trigon_url: str | None = typer.Option(
        None,
        "--trigon-url",
        help="Trigon API base URL; wins over --environment (default: config or production).",
    ),
    token_store: str | None = typer.Option(
        None,
        "--token-store",
        metavar="keyring|file",
        help="Where to keep tokens: 'keyring' (default) or 'file' (0600 file, less safe).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Do not log in: show the stored connection and its reach."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the reach as JSON."),
) -> None:
    """Connect to Trigon (no password is ever stored) and check which firms it reaches."""
    config = load_config()
    if check:
        if token_store is not None:
            store_kind(token_store, config)  # a typo is refused, not silently ignored
        _check_connection(config, as_json=as_json)
        return
    kind = store_kind(token_store, config)
    chosen = _mode(
        mode,
        password_hint=password_stdin or email is not None,
        key_hint=credentials_stdin,
        config=config,
    )
    base_url, env, saved_url = _target(trigon_url, environment, config)
    store = usable_store(kind, "connect")
    if chosen == "api-key":
        auth = _api_credentials(from_stdin=credentials_stdin)
        wire = trigon_wire(base_url, policy=INTERACTIVE_POLICY, hint=url_hint("--trigon-url"))
        client = TrigonClient(wire, auth)
        try:
            user = client.me()  # the "Test connection": nothing is stored before it passes
        except BaseException:
            client.close()
            raise
        previous = store.get(TRIGON_REFRESH_TOKEN)
        auth.store(store)
        _save_trigon(mode=chosen, email=user.email, saved_url=saved_url, environment=env, kind=kind)
        if previous is not None:
            revoke(wire, previous)  # best effort: the password connection is replaced
            store.delete(TRIGON_REFRESH_TOKEN)
        who = f"{user.name} <{user.email}>" if user.name else user.email
        how = "ID token and API key"
    else:
        email = ask(email or config.trigon.email, "Trigon email", "--email")
        password = read_secret(
            from_stdin=password_stdin, prompt="Trigon password", option="--password-stdin"
        )
        wire = trigon_wire(base_url, policy=INTERACTIVE_POLICY, hint=url_hint("--trigon-url"))
        try:
            grant = login(wire, email, password)
        finally:
            del password
        previous = store.get(TRIGON_REFRESH_TOKEN)
        tokens = TokenManager(wire, store, email=email)
        tokens.adopt(grant)
        _save_trigon(mode=chosen, email=email, saved_url=saved_url, environment=env, kind=kind)
        if previous is not None and previous != grant.refresh:
            revoke(wire, previous)  # best effort: the old connection is not needed any more
        for name in (TRIGON_ID_TOKEN, TRIGON_API_KEY):
            store.delete(name)  # an earlier api-key connection is replaced
        who = grant.user.name if grant.user and grant.user.name else email
        client = TrigonClient(wire, tokens)
        how = "password login"
    where = base_url if env == "production" else f"{base_url}, {env} environment"
    output.stderr.print(f"Connected to Trigon as {who} ({where}; {how}).", markup=False)
    file_store_note(store)
    with client:
        reach = client.reach()
    _render_reach(reach, as_json=as_json)
    offer_uku = not as_json and output.is_interactive() and not _uku_connected(config, store)
    if offer_uku:
        _offer_uku(kind, config)
    _reach_outcome(reach)


def _offer_uku(kind: str, config: Config) -> None:
    """Connect Uku too if the admin wants: asks where it is, and never fails the Trigon
    connection just saved (a wrong Uku URL or key is a warning and `connect-uku` later)."""
    later = "run `trigon-sync connect-uku --company <company uuid> --uku-url URL` when ready"
    try:
        if not output.ask_yes_no("Uku is not connected yet. Connect it now?", default=True):
            output.line(f"Uku skipped; {later}.")
            return
        url = output.ask_text("Uku API URL", default=config.uku.base_url).strip()
        connect_uku(key_stdin=False, company=None, uku_url=url, token_store=kind, drop_links=False)
    except typer.Abort:
        output.line(f"Uku skipped; the Trigon connection is saved; {later}.")
    except TrigonSyncError as exc:
        output.line(f"warning: Uku is not connected: {exc}")
        output.line(f"The Trigon connection is saved; {later}.")


def _check_connection(config: Config, *, as_json: bool) -> None:
    description = describe_store(config.trigon.token_store)
    output.stderr.print(f"token store: {description}", markup=False)
    with trigon_client(config) as client:
        reach = client.reach()
    how = "ID token and API key" if config.trigon.auth == "api-key" else "password login"
    output.stderr.print(
        f"Trigon: connected as {config.trigon.email or '?'} ({client.base_url}; {how})",
        markup=False,
    )
    _render_reach(reach, as_json=as_json)
    _reach_outcome(reach)


def _reach_outcome(reach: Reach) -> None:
    """No firm at all fails; firms without View are a warning: the connection itself works
    and is kept (exit 0), and `status`/`doctor` keep reporting the firms until fixed."""
    problem = reach_problem(reach)
    if isinstance(problem, PartialFailure):
        output.line(f"warning: {problem}")
    elif problem is not None:
        raise problem


def register(app: Any) -> None:
    """Add ``connect`` to the root app (its entry in cli/app.py)."""
    app.command("connect", epilog=CONNECT_EXAMPLE)(connect)
