"""``trigon-sync sandbox``: local Trigon and Uku servers with seeded data, and seed files.

``serve`` is how someone tries the tool with no accounts and how end-to-end tests get
real sockets; ``seed`` writes the JSON world (and the Business Register zip) it serves.
Starlette and uvicorn are the ``sandbox`` extra, so everything heavier than typer is
imported inside the commands: the rest of the CLI starts without them.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from trigon_sync.business_register.source import ENV_URL as ENV_REGISTER_URL
from trigon_sync.errors import UsageError

app = typer.Typer(
    help="Local Trigon and Uku servers with seeded data (no accounts needed).",
    no_args_is_help=True,
    epilog="Example: trigon-sync sandbox serve --firms 50",
)

SERVE_EXAMPLE = "Example: trigon-sync sandbox serve --firms 50 --latency-ms 20 --fault-rate 0.05"
SEED_EXAMPLE = (
    "Example: trigon-sync sandbox seed --firms 200 --out seed.json --register-out reg.zip"
)


def _need_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            "the sandbox needs Starlette and uvicorn, which are not installed",
            hint="pip install 'trigon-sync[sandbox]'",
        ) from exc


def _seed_dict(
    seed_file: Path | None, firms: int | None, random_seed: int, unrelated: int = 0
) -> Any:
    from trigon_sync.sandbox import generate_seed, load_seed

    if seed_file is not None and firms is not None:
        raise UsageError("give either --seed FILE or --firms N, not both")
    if seed_file is not None:
        if unrelated:
            raise UsageError("--unrelated-tasks goes with --firms; a seed file says its own")
        return load_seed(seed_file)
    return generate_seed(
        50 if firms is None else firms, seed=random_seed, unrelated_tasks=unrelated
    )


@app.command("serve", epilog=SERVE_EXAMPLE)
def serve(
    seed_file: Path | None = typer.Option(
        None, "--seed", metavar="FILE", help="Serve this seed file.", dir_okay=False, exists=True
    ),
    firms: int | None = typer.Option(
        None, "--firms", min=0, help="Serve a generated world with N firms (default 50)."
    ),
    random_seed: int = typer.Option(0, "--random-seed", help="Generator seed for --firms."),
    unrelated_tasks: int = typer.Option(
        0,
        "--unrelated-tasks",
        min=0,
        help="The Uku company's other work: N tasks in other topics over five years "
        "(made up on demand, so 100,000 start as fast as none).",
    ),
    trigon_port: int = typer.Option(0, "--trigon-port", min=0, max=65535, help="0 = any free."),
    uku_port: int = typer.Option(0, "--uku-port", min=0, max=65535, help="0 = any free."),
    latency_ms: float = typer.Option(0.0, "--latency-ms", min=0, help="Added to every answer."),
    fault_rate: float = typer.Option(
        0.0, "--fault-rate", min=0.0, max=1.0, help="Fraction of requests answered 500/502/503."
    ),
    fault_seed: int = typer.Option(0, "--fault-seed", help="Same seed, same fault sequence."),
    uku_write_limit: int = typer.Option(
        600, "--uku-write-limit", min=1, help="Uku writes per minute (production: about 30)."
    ),
    profile: str = typer.Option(
        "contract",
        "--profile",
        metavar="contract|production-like",
        help="How Uku behaves: 'contract' (docs/uku-api.md) or 'production-like' "
        "(every known quirk of the real Uku; docs/sandbox.md).",
    ),
    quirks: list[str] = typer.Option(
        [],
        "--uku-quirk",
        metavar="NAME",
        help="Turn on one quirk of the real Uku (repeatable), e.g. html_descriptions, "
        "ignore_idempotency, no_has_more; docs/sandbox.md lists them.",
    ),
    post_commit_fail_rate: float = typer.Option(
        0.0,
        "--post-commit-fail-rate",
        min=0.0,
        max=1.0,
        help="Fraction of Uku's POSTs committed and then answered 5xx or dropped.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print URLs and credentials as one JSON line, then serve."
    ),
) -> None:
    """Run both servers on 127.0.0.1 in the foreground until Ctrl-C or SIGTERM."""
    _need_extra()
    from trigon_sync.cli import output
    from trigon_sync.sandbox import FaultConfig, run_sandbox
    from trigon_sync.sandbox.behaviour import SWITCHES
    from trigon_sync.sandbox.behaviour import profile as named_profile

    try:
        behaviour = named_profile(profile)
    except ValueError as exc:
        raise UsageError(f"--profile: {exc}") from None
    unknown = [q for q in quirks if q not in SWITCHES]
    if unknown:
        raise UsageError(
            f"--uku-quirk: unknown quirk {unknown[0]!r}", hint=f"known: {', '.join(SWITCHES)}"
        )
    behaviour = behaviour.updated(dict.fromkeys(quirks, True))

    seed = _seed_dict(seed_file, firms, random_seed, unrelated_tasks)
    faults = FaultConfig(
        seed=fault_seed,
        latency_ms=latency_ms,
        error_rate=fault_rate,
        uku_write_limit=uku_write_limit,
    )
    # Lost answers to committed creates are Uku's trouble to simulate; on Trigon's token
    # refresh they would only spend the login (docs/trigon-api.md), so Trigon is spared.
    uku_faults = faults.updated({"post_commit_fail_rate": post_commit_fail_rate})
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            ctx = run_sandbox(
                seed,
                trigon_port=trigon_port,
                uku_port=uku_port,
                faults=faults,
                uku_faults=uku_faults,
                uku_behaviour=behaviour,
            )
            running = ctx.__enter__()
        except OSError as exc:
            raise UsageError(
                f"cannot listen on 127.0.0.1: {exc.strerror}",
                hint="pick other ports with --trigon-port/--uku-port, or 0 for any free port",
            ) from exc
        try:
            creds = running.world.credentials()
            info = {
                "trigon_url": running.trigon_url,
                "trigon_test_url": running.trigon_test_url,
                "register_url": running.register_url,
                "uku_url": running.uku_url,
                "trigon_admin_url": running.trigon_admin_url,
                "uku_admin_url": running.uku_admin_url,
                **creds,
            }
            if as_json:
                typer.echo(json.dumps(info, ensure_ascii=False))
            else:
                _print_banner(output.stdout, info)
            sys.stdout.flush()
            while not stop.wait(0.2):
                pass
        finally:
            ctx.__exit__(None, None, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not as_json:
        output.stdout.print("Sandbox stopped.")


def _print_banner(console: Any, info: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="trigon-sync sandbox", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("Trigon API", info["trigon_url"])
    table.add_row("Trigon API (test)", info["trigon_test_url"])
    table.add_row("Business Register", info["register_url"])
    table.add_row("Uku API", info["uku_url"])
    for user in info["trigon_users"]:
        state = (
            ""
            if user["active"] and not user["removed"]
            else (" (removed)" if user["removed"] else " (inactive)")
        )
        table.add_row("Trigon login", escape(f"{user['email']} / {user['password']}{state}"))
    for key in info.get("trigon_api_keys", ()):
        table.add_row(
            f"Trigon API key ({key['environment']})",
            escape(f"ID token {key['id_token']} / API key {key['api_key']}"),
        )
    table.add_row("Uku API key", info["uku_api_key"])
    table.add_row("Uku company", info["uku_company"])
    table.add_row("Admin", f"{info['trigon_admin_url']}/  {info['uku_admin_url']}/")
    console.print(table)
    if info["trigon_users"]:
        console.print(
            f"Try: trigon-sync connect --trigon-url {info['trigon_url']} "
            f"--email {info['trigon_users'][0]['email']}  (add --token-store file where "
            "there is no OS keyring, e.g. on a server)",
            soft_wrap=True,
        )
        console.print(
            f"  or trigon-sync connect --mode api-key --trigon-url {info['trigon_url']}  "
            "(asks for the ID token and API key above)",
            soft_wrap=True,
        )
        console.print(
            f"     trigon-sync connect-uku --uku-url {info['uku_url']} "
            f"--company {info['uku_company']}",
            soft_wrap=True,
        )
    console.print(
        f"     export {ENV_REGISTER_URL}={info['register_url']}  (import-clients then "
        "downloads this register file, built from the seed)",
        soft_wrap=True,
    )
    console.print("Sandbox-only passwords and keys. Press Ctrl-C to stop.")


@app.command("seed", epilog=SEED_EXAMPLE)
def seed(
    firms: int = typer.Option(..., "--firms", min=0, help="How many Trigon firms."),
    out: Path = typer.Option(..., "--out", metavar="FILE", help="Where to write the seed JSON."),
    register_out: Path | None = typer.Option(
        None, "--register-out", metavar="FILE.zip", help="Also write the register zip."
    ),
    full_register: bool = typer.Option(
        False, "--full-register", help="Pad the register zip to real size (~373,000 rows)."
    ),
    random_seed: int = typer.Option(0, "--random-seed", help="Same seed, same world."),
    unrelated_tasks: int = typer.Option(
        0,
        "--unrelated-tasks",
        min=0,
        help="The Uku company's other work: N tasks in other topics over five years "
        "(made up on demand, so 100,000 start as fast as none).",
    ),
) -> None:
    """Write a generated seed (docs/sandbox.md) and optionally its Business Register zip."""
    from trigon_sync.cli import output
    from trigon_sync.sandbox import generate_seed

    data = generate_seed(firms, seed=random_seed, unrelated_tasks=unrelated_tasks)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    output.stdout.print(
        f"Seed with {firms} firms and {len(data['trigon']['records']):,} records written to {out}."
    )
    if register_out is not None:
        from trigon_sync.sandbox import register_file

        if full_register:
            register_file.write_full_size_register(register_out, extra_rows=data["register"])
        else:
            register_file.write_register_zip(data["register"], register_out)
        output.stdout.print(f"Business Register file written to {register_out}.")


DEMO_EXAMPLE = "Example: trigon-sync sandbox demo --keep"


@app.command("demo", epilog=DEMO_EXAMPLE)
def demo(
    firms: int = typer.Option(
        20, "--firms", min=20, max=500, help="Firms in the generated world (20 or more)."
    ),
    keep: bool = typer.Option(
        False, "--keep", help="Keep the demo's home directory to look around afterwards."
    ),
) -> None:
    """Run connect, import, confirm, map-fields and three months of run-monthly in a sandbox.

    Everything happens on 127.0.0.1 in a temporary home directory; your own config and
    tokens are not touched.
    """
    _need_extra()
    from trigon_sync.cli import output
    from trigon_sync.cli.demo import run_demo
    from trigon_sync.errors import PartialFailure

    result = run_demo(output.stdout, firms=firms, keep=keep)
    if result.unexpected:
        raise PartialFailure(
            "the demo did not go as expected: " + "; ".join(result.unexpected),
            hint="run the step by hand with --verbose and report what it printed",
        )
    output.line(demo_summary(result.codes), to_stderr=False)
    output.line(
        "Try it by hand: `trigon-sync sandbox serve` prints the URLs and credentials to "
        'connect with (README, "Try it by hand"; docs/sandbox.md).',
        to_stderr=False,
    )


def demo_summary(codes: list[int]) -> str:
    """What the demo showed, truthfully: every exit code was the expected one, and the
    warnings above it are real (it leaves firms unlinked on purpose, as in production)."""
    warned = sum(1 for code in codes if code != 0)
    return (
        f"Demo finished: all {len(codes)} commands exited as expected"
        + (f" ({warned} with exit 5, for the reason noted under it)" if warned else "")
        + ". The `warning:` lines are real: the sandbox seeds firms without View and with "
        "shared codes, which the demo leaves unlinked, as you would decide in production."
    )
