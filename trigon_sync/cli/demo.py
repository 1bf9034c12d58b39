"""The one-command demo: the whole admin + cron flow against the local sandbox.

It starts both sandbox servers on 127.0.0.1, makes a throw-away home directory and runs
the real ``trigon-sync`` commands as child processes, one after another, so a new user
sees exactly what each command prints — nothing here re-implements a command. Secrets
reach the children on stdin (``--password-stdin`` / ``--key-stdin``), as an admin's
automation would pass them.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule

from trigon_sync.settings import fields
from trigon_sync.store import paths


@dataclass(frozen=True)
class Step:
    """One command of the demo, why it is run, and the exit codes that are expected."""

    why: str
    args: tuple[str, ...]
    stdin: str | None = None
    expect: tuple[int, ...] = (0,)
    note: str = ""


@dataclass
class DemoResult:
    """What happened: each step's exit code, and the steps that surprised us."""

    home: Path
    codes: list[int] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def _steps(info: dict[str, Any], no_view_codes: Sequence[str]) -> list[Step]:
    admin = info["trigon_users"][0]
    mapping = [arg for f in fields.FIELDS for arg in ("--set", f"{f.key}={f.label_en}")]
    skip = [arg for code in no_view_codes for arg in ("--skip", code)]
    return [
        Step(
            "Connect the Trigon user. The password goes in on stdin and is never stored; "
            "this server has no OS keyring, so tokens go to a 0600 file.",
            (
                "connect",
                "--email",
                admin["email"],
                "--password-stdin",
                "--trigon-url",
                info["trigon_url"],
                "--token-store",
                "file",
            ),
            stdin=admin["password"] + "\n",
            expect=(0, 5),
            note="Exit 5 is expected: the sandbox seeds two firms the user may list but not view.",
        ),
        Step(
            "Store the Uku API key (checked with a cheap call first).",
            (
                "connect-uku",
                "--key-stdin",
                "--company",
                info["uku_company"],
                "--uku-url",
                info["uku_url"],
            ),
            stdin=info["uku_api_key"] + "\n",
        ),
        Step(
            "Plan the client import: match Trigon firms to Uku clients by registration code. "
            "The Business Register file is downloaded first (here: the sandbox's, built from "
            "its seed), so codes missing from it get a red X.",
            ("import-clients",),
        ),
        Step(
            "Apply it, leaving out the firms whose data we may not read.",
            ("confirm", "--yes", "--manager", "manager@firm.ee", *skip),
        ),
        Step(
            "Configure the monthly summary task: title, topic, schedule and the 14 fields.",
            (
                "map-fields",
                "--title",
                "Monthly summary {period}",
                "--topic",
                "Bookkeeping",
                "--schedule",
                "last_calendar_day",
                "--first-import-date",
                "01.10.2024",
                *mapping,
            ),
        ),
        Step("Which days will be imported?", ("schedule", "--today", "30.10.2024")),
        Step(
            "cron on an ordinary night: nothing is due, one quiet line.",
            ("run-monthly", "--today", "30.10.2024"),
        ),
        Step(
            "Support staff preview the October import without writing anything.",
            ("run-monthly", "--today", "31.10.2024", "--dry-run"),
        ),
        Step("The October import day (31.10.2024).", ("run-monthly", "--today", "31.10.2024")),
        Step(
            "cron missed November: one run the next month catches up, oldest period first.",
            ("run-monthly", "--today", "31.12.2024"),
        ),
        Step(
            "Everything at a glance, without network calls.",
            ("status",),
            expect=(0, 5),
            note="Exit 5 is expected: the demo replays 2024, so status sees every import day "
            "from 2025 up to the real today as not counted yet.",
        ),
        Step("The run history.", ("history",)),
        Step(
            "What Uku bills from, month by month, from local records (also as CSV or JSON).",
            ("report", "--from", "2024-10", "--to", "2024-12", "--chart"),
        ),
    ]


def _command_line(step: Step) -> str:
    return "$ trigon-sync " + " ".join(shlex.quote(a) for a in step.args)


def run_demo(console: Console, *, firms: int, keep: bool) -> DemoResult:
    """Start the sandbox, run every step in a fresh home, and report unexpected exit codes."""
    from trigon_sync.business_register.source import ENV_URL as ENV_REGISTER_URL
    from trigon_sync.sandbox import FaultConfig, generate_seed, run_sandbox

    seed = generate_seed(firms, seed=0)
    workdir = Path(tempfile.mkdtemp(prefix="trigon-sync-demo-"))
    home = workdir / "home"
    no_view = set(seed.get("anomalies", {}).get("no_view", []))
    codes = sorted(f["registration_code"] for f in seed["trigon"]["firms"] if f["id"] in no_view)
    env = {**os.environ, paths.ENV_HOME: str(home), "COLUMNS": str(console.width)}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    result = DemoResult(home=home)
    # Production Trigon allows about 600 requests a minute, which would make the demo's
    # catch-up night wait a minute for the window to reset; the demo is not a benchmark.
    faults = FaultConfig(trigon_limit=100_000, uku_read_limit=100_000, uku_write_limit=100_000)
    with run_sandbox(seed, faults=faults) as running:
        info = {
            **running.world.credentials(),
            "trigon_url": running.trigon_url,
            "uku_url": running.uku_url,
        }
        env[ENV_REGISTER_URL] = running.register_url
        console.print(
            f"Sandbox: Trigon {running.trigon_url}, Uku {running.uku_url}, {firms} firms.\n"
            f"Business Register file: {running.register_url}\n"
            f"Home directory for this demo: {home}"
        )
        for step in _steps(info, codes):
            console.print(Rule(style="dim"))
            console.print(f"[bold]{step.why}[/bold]")
            console.print(_command_line(step), style="cyan", soft_wrap=True, highlight=False)
            console.file.flush()
            done = subprocess.run(  # noqa: S603 - our own CLI, arguments built above
                [sys.executable, "-m", "trigon_sync", *step.args],
                input=step.stdin,
                text=True,
                env=env,
                check=False,
            )
            result.codes.append(done.returncode)
            if done.returncode not in step.expect:
                result.unexpected.append(f"{_command_line(step)} exited {done.returncode}")
            elif done.returncode != 0 and step.note:
                console.print(f"[dim]{step.note}[/dim]")
    console.print(Rule(style="dim"))
    if keep:
        console.print(f"Kept the demo home for a look around: {home}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return result
