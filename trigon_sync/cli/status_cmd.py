"""``status``, ``doctor``, ``history`` and ``explain``: what support staff run first.

Each command gathers a report from the domain modules (health/status.py, health/doctor.py, the
*_checks.py modules, billing/explain.py) and only renders it here: a rich screen for people, or
with ``--json`` one JSON document (docs/json-output.md). ``status`` and ``doctor`` exit
with the code of their first failed check so monitoring can call them; a failed check is
printed, not raised, so every line is shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import typer

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.cli.params import period_value
from trigon_sync.dates import format_ee, format_ee_day, format_ee_time
from trigon_sync.errors import ConfigError, TrigonSyncError, UsageError
from trigon_sync.health.checks import SYMBOLS, Check, Outcome
from trigon_sync.health.status import (
    StatusReport,
    history_page,
    status,
)
from trigon_sync.schedule.run_text import next_import_sentence
from trigon_sync.store import paths, records_migration
from trigon_sync.store.config_file import load_config
from trigon_sync.store.state import load_state

if TYPE_CHECKING:
    # Imported where used: `status --json`, called every few minutes, needs none of them
    # (nor rich, which only the screens for people load).
    from trigon_sync.health.doctor import DoctorReport
    from trigon_sync.records.tables import RunRecord
    from trigon_sync.settings.config import Config

STATUS_EXAMPLE = "Example: trigon-sync status --json   (exit 0 when healthy; for monitoring)"
DOCTOR_EXAMPLE = "Example: trigon-sync doctor   (checks Trigon, Uku, keyring, clock, files)"
HISTORY_EXAMPLE = "Example: trigon-sync history --limit 5"
EXPLAIN_EXAMPLE = "Example: trigon-sync explain 10137319 --period 2024-10"

_RESULT_STYLES = {"ok": "green", "partial": "yellow", "failed": "bold red"}
_STYLES = {
    Outcome.OK: "green",
    Outcome.WARN: "yellow",
    Outcome.FAIL: "bold red",
    Outcome.SKIP: "dim",
}


def _line(label: str, value: str) -> None:
    from rich.text import Text

    output.item(output.stdout, Text(f"{label:<12}", "bold"), value)


def _print_check(check: Check) -> None:
    from rich.text import Text

    symbol = SYMBOLS[check.outcome]
    output.item(
        output.stdout,
        Text(f"  {symbol} ", _STYLES[check.outcome]),
        Text.assemble(
            check.title,
            (" — ", "dim"),
            output.one_line(check.detail),  # quotes names and server text: one line
        ),
    )
    if check.fix and check.outcome in {Outcome.FAIL, Outcome.WARN}:
        output.item(output.stdout, Text("      fix: ", "bold"), output.one_line(check.fix))


def _not_usable(problem: object) -> str:
    """Why the token store cannot be used; nothing known (a config that did not load)
    says so in words rather than as a bare None."""
    return f"not usable ({problem})" if problem else "not checked (fix config.toml first)"


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    return "unknown" if value is None else yes if value else no


def _render_status(report: StatusReport) -> None:
    from rich.text import Text

    facts = report.facts
    doc = report.to_json()
    conn = doc["connections"]
    _line("Home", str(paths.home_dir()))
    _line("Today", f"{format_ee(facts.today)} (Tallinn)")
    trigon, uku, store = conn["trigon"], conn["uku"], conn["token_store"]
    _line(
        "Trigon",
        f"{trigon['email'] or '—'} at {trigon['base_url'] or '—'}: "
        + _yes_no(trigon["connected"], "connected", "not connected"),
    )
    _line(
        "Uku",
        f"company {uku['company'] or '—'} at {uku['base_url'] or '—'}: "
        + _yes_no(uku["connected"], "connected", "not connected"),
    )
    _line(
        "Tokens",
        f"{store['kind'] or '—'} ({store['location'] or '—'}): "
        + ("usable" if store["usable"] else _not_usable(store["problem"])),
    )
    config = doc["config"]
    if not config["valid"]:
        _line("Config", "invalid: " + "; ".join(str(p) for p in config["problems"]))
    else:
        missing = config["missing_for_monthly"]
        _line("Config", "complete" if not missing else "missing " + ", ".join(missing))
    # The full mapping is `map-fields --show`; here only what is left out is worth naming.
    unmapped = report.unmapped
    if not config["valid"]:
        # No mapping was read: "0 mapped; unmapped: <all 14>" would send the admin to
        # map-fields for what is one typo in config.toml.
        _line("Fields", "not known while config.toml is invalid (see Config)")
    else:
        _line(
            "Fields",
            f"{len(report.mapped)} mapped; "
            + (f"unmapped: {', '.join(unmapped)}" if unmapped else "none unmapped"),
        )
    linked = doc["clients"]["linked"]
    ignored = doc["clients"]["ignored"]
    clients_text = "unknown" if linked is None else f"{linked} linked"
    if ignored:
        names = ", ".join(
            f"{i['name']} ({i.get('registration_code') or i['trigon_id']})" for i in ignored
        )
        clients_text += f"; {len(ignored)} Trigon firm(s) ignored (no task): {names}"
    _line("Clients", clients_text)
    state = facts.state
    if state is not None:
        last = (
            f"last period {state.last_period} ended {format_ee(state.last_period_end)}"
            if state.last_period and state.last_period_end
            else "nothing counted yet"
        )
        upcoming = facts.next_run
        nxt = f"; {next_import_sentence(upcoming)}" if upcoming else "; no schedule"
        _line("Window", last + nxt)
    run = facts.last_run
    if run is None:
        _line("Last run", "none")
    else:
        failures = run.failures
        _line(
            "Last run",
            f"{format_ee_time(run.at or '?')}: {run.result or '?'}"
            + (f", {len(failures)} client(s) failed" if failures else ""),
        )
    output.stdout.print(Text("Checks", style="bold"))
    for check in report.checks:
        _print_check(check)


def status_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Connections, configuration, linked clients, the next window and the last run.

    Reads only local files and the token store (and keeps the newest period's flagged
    clients in ledger.flags.json); never calls Trigon or Uku. Exits 0 when healthy,
    otherwise with the code of the first problem (3 config, 4 auth, 5 last run
    incomplete, 8 state).
    """
    now = clock.now()
    report = status(now.date(), now=now)
    if as_json:
        output.print_json(report.to_json())
    else:
        _render_status(report)
    raise typer.Exit(int(report.exit_code))


@contextlib.contextmanager
def _clients(
    config: Config | None, gates: tuple[str | None, str | None]
) -> Iterator[tuple[Any, Any]]:
    """The Trigon and Uku clients (or the error / skip reason in their place), closed after."""
    from trigon_sync.cli.connections import trigon_client, uku_client

    with contextlib.ExitStack() as stack:
        made: list[Any] = []
        factories: tuple[Callable[[Config], contextlib.AbstractContextManager[Any]], ...] = (
            trigon_client,
            uku_client,
        )
        for gate, factory in zip(gates, factories, strict=True):
            if gate is not None or config is None:
                made.append(gate or "config.toml is not valid")
                continue
            try:
                client = factory(config)
            except TrigonSyncError as exc:
                made.append(exc)
                continue
            made.append(stack.enter_context(client))
        yield made[0], made[1]


def _render_doctor(report: DoctorReport) -> None:
    from rich.text import Text

    _render_status(report.status)
    output.stdout.print(Text("Live checks", style="bold"))
    for check in report.live:
        _print_check(check)
    output.stdout.print(Text("This machine", style="bold"))
    for check in report.environment:
        _print_check(check)
    counts = {o: sum(1 for c in report.checks if c.outcome is o) for o in Outcome}
    output.stdout.print(
        f"{counts[Outcome.OK]} passed, {counts[Outcome.FAIL]} failed, "
        f"{counts[Outcome.WARN]} warning(s), {counts[Outcome.SKIP]} skipped",
        markup=False,
    )


def doctor_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    probe: bool = typer.Option(
        False,
        "--probe",
        help="Measure how Uku really behaves with one throw-away task (deleted at the end) "
        "and store the facts the monthly run then uses. Run by hand, never from cron.",
    ),
) -> None:
    """Everything `status` checks plus live checks against Trigon and Uku, the keyring
    from cron, file permissions, the time zone and the Business Register file.

    Each line is ✓, ✗ (with the fix), ! (a warning) or – (skipped because an earlier
    check failed). Exits 0 when nothing failed, else with the first failure's code.
    """
    from trigon_sync.cli import probe_cmd

    if probe:
        raise typer.Exit(probe_cmd.run_probe(load_config(), as_json=as_json))
    from trigon_sync.health.doctor import diagnose, live_gates
    from trigon_sync.health.environment_checks import environment_checks

    now = clock.now()
    report = status(now.date(), now=now, whole_state=True, thorough=True)
    config = report.facts.config
    environment = environment_checks(config, now, trigon_token=report.facts.trigon_token)
    with _clients(config, live_gates(report)) as (trigon, uku):
        doctor = diagnose(report, trigon=trigon, uku=uku, environment=environment)
    try:
        facts = probe_cmd.stored_facts()
        facts_text = probe_cmd.facts_line(facts, now.date())
    except TrigonSyncError as exc:
        facts, facts_text = None, str(exc)
    if as_json:
        document = doctor.to_json()
        document["probe"] = None if facts is None else facts.to_json()
        output.print_json(document)
    else:
        _render_doctor(doctor)
        _line("Uku probe", facts_text)
    raise typer.Exit(int(doctor.exit_code))


def _counts(ok: Any, failed: Any) -> str:
    return "—" if ok is None and failed is None else f"{ok or 0} / {failed or 0}"


def _shown(value: Any) -> str:
    """A recorded value as a person reads it: a list of firms as their names and codes."""
    if isinstance(value, list):
        return ", ".join(_shown(item) for item in value) or "none"
    if isinstance(value, dict):
        name, code = value.get("name"), value.get("registration_code")
        if name or code:
            return f"{name or '?'} ({code or value.get('firm', '?')})"
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    return str(value)


def _done_earlier(count: Any) -> str:
    """The tasks runs killed before they could record wrote (a later run's record counts
    them), so that a record's created, updated and earlier figures add up to Uku's tasks."""
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        return ""
    return f" / {count} by an earlier, unrecorded run"


def _render_history(runs: list[RunRecord], total: int) -> None:
    from rich.text import Text

    if not runs:
        output.stdout.print("No runs recorded yet.", markup=False)
        return
    for run in runs:
        # The command's own figures, shown as recorded.
        record = run.details
        result = run.result or "?"
        parts = [run.command or "?"]
        periods = record.get("periods")
        if periods is not None:
            parts.append("periods " + (", ".join(str(p) for p in periods) or "none"))
        if "clients_ok" in record or "clients_failed" in record:
            parts.append(
                f"clients {record.get('clients_ok', 0)} ok / {record.get('clients_failed', 0)} "
                "failed"
            )
        if record.get("interrupted"):
            # A stopped run is not a run that had failures: say so, and what it left.
            left = record.get("not_started")
            parts.append(f"interrupted, {left} not started" if left else "interrupted")
        if "tasks_created" in record or "tasks_updated" in record:
            parts.append(
                f"tasks {record.get('tasks_created', 0)} created / "
                f"{record.get('tasks_updated', 0)} updated"
                + _done_earlier(record.get("done_earlier"))
            )
        if periods is None:  # another command (--all): show what it recorded
            parts.extend(f"{key} {_shown(value)}" for key, value in record.items())
        duration = record.get("duration_seconds")
        if isinstance(duration, int | float):
            parts.append(f"{duration:.1f} s")
        output.item(
            output.stdout,
            Text.assemble(
                (f"{format_ee_time(run.at)}  ", "bold"),
                (f"{result:<8}", _RESULT_STYLES.get(result, "")),
            ),
            "  ".join(parts),
        )
        if record.get("error"):
            output.item(output.stdout, "    stopped: ", output.one_line(record["error"]))
        failures = run.failures
        for failure in failures:
            period = f" {failure.period}" if failure.period else ""
            output.item(
                output.stdout,
                Text("    ✗ ", "red"),
                output.one_line(f"{failure.who}{period}: {failure.reason}"),
            )
        failed = record.get("clients_failed")
        if isinstance(failed, int) and failures and failed > len(failures):
            output.stdout.print(
                f"    … and {failed - len(failures)} more (not kept in the history)",
                markup=False,
            )
        _render_owed(run)
    if total > len(runs):
        output.stdout.print(
            f"Showing {len(runs)} of {total} runs; use --limit to see more.", markup=False
        )


def _render_owed(run: RunRecord) -> None:
    """The (client, period) pairs still owed after a run: who, which period, since when
    and why (the cron mail's ``owed:`` lines, as they stood that night)."""
    from rich.text import Text

    pairs = run.owed
    for pair in pairs:
        since = f", owed since {format_ee_day(pair.since)}" if pair.since else ""
        if pair.days is not None:
            since += f" ({pair.days} day{'' if pair.days == 1 else 's'})"
        output.item(
            output.stdout,
            Text("    owed ", "yellow"),
            output.one_line(f"{pair.who} period {pair.period}{since}: {pair.reason}"),
        )
    total = run.details.get("owed_total")
    if isinstance(total, int) and total > len(pairs):
        output.stdout.print(
            f"    … and {total - len(pairs)} more owed (not kept in the history)", markup=False
        )


def history_command(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs to show."),
    every_command: bool = typer.Option(
        False, "--all", help="Also show other recorded changes (confirm, state changes)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Past monthly runs: when, which periods, clients ok / failed with the reasons,
    tasks created / updated, and how long each took."""
    total, records = history_page(limit, every_command=every_command)
    if as_json:
        runs = [record.to_document() for record in records]
        output.print_json({"command": "history", "total": total, "runs": runs})
        return
    _render_history(records, total)


def explain_command(
    client: str = typer.Argument(
        ..., metavar="CLIENT", help="Registration code, Trigon firm id, or (part of) the name."
    ),
    period: str | None = typer.Option(
        None, "--period", metavar="YYYY-MM", parser=period_value, help="Only this period."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Why a client has, or has no, summary task in each period (from local records only)."""
    from trigon_sync.billing.explain import explain_client
    from trigon_sync.billing.explain_records import read_journals
    from trigon_sync.billing.firm_state import candidates
    from trigon_sync.cli.explain_view import render_explanation
    from trigon_sync.clients.lookup import find_firm, find_link

    records_migration.ensure_migrated()  # a home of an older version: its journal files first
    state = load_state()
    try:
        config: Config | None = load_config()
    except ConfigError:
        config = None  # the schedule is unknown; past periods are still answered
    link = find_link(state, client)
    firm = link.trigon_id if link is not None else find_firm(client, candidates(state))
    journals = (
        {}
        if firm is None
        else read_journals(state, firm, periods=None if period is None else {period})
    )
    answer = explain_client(client, state, config, journals, clock.today(), period)
    if answer.link is None and answer.staged is None and answer.firm is None:
        raise UsageError(answer.summary)  # README: an unknown name is a usage error (exit 2)
    if as_json:
        output.print_json(answer.to_json())
    else:
        render_explanation(answer)


def register(app: Any) -> None:
    """Add the commands to the root app (one line in cli/app.py)."""
    app.command("status", epilog=STATUS_EXAMPLE)(status_command)
    app.command("doctor", epilog=DOCTOR_EXAMPLE)(doctor_command)
    app.command("history", epilog=HISTORY_EXAMPLE)(history_command)
    app.command("explain", epilog=EXPLAIN_EXAMPLE)(explain_command)
