"""``doctor --probe`` (explicit, never from cron) and the stored facts ``doctor`` shows;
also how ``run-monthly`` uses them (:func:`apply_facts`).

The probe itself is health/probe_uku.py, and health/probe_trigon.py, which first checks
one page of each Trigon endpoint against docs/trigon-api.md's schemas (read-only; a Trigon
that cannot be read is a note, never a reason to skip the Uku probe). The facts' meaning is
health/probe_facts.py; the file store/probe_facts.py. SIGTERM is turned into an interrupt
while the probe runs, so its ``finally`` deletes the throw-away task on Ctrl-C and on
``kill`` alike.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import signal
import time
from collections.abc import Iterator
from types import FrameType

from rich.text import Text

from trigon_sync import clock
from trigon_sync.cli import output
from trigon_sync.errors import ExitCode, StateError, TrigonSyncError, UkuUnsafe
from trigon_sync.health.probe_facts import ProbeFacts, facts_from_json
from trigon_sync.health.probe_trigon import TrigonContact, probe_trigon
from trigon_sync.health.probe_uku import PROBE_TITLE, probe_uku
from trigon_sync.settings.config import Config
from trigon_sync.store import installation
from trigon_sync.store import probe_facts as facts_file


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread (tests): Ctrl-C is still an interrupt
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stored_facts() -> ProbeFacts | None:
    """The last probe's facts, or None (no probe yet, or a file we cannot read as facts)."""
    data = facts_file.load()
    if data is None:
        return None
    try:
        return facts_from_json(data)
    except (KeyError, TypeError, ValueError):
        raise StateError(
            "probe-facts.json is not readable as probe facts",
            hint="run `trigon-sync doctor --probe` again, or delete the file",
        ) from None


def run_probe(config: Config, *, as_json: bool) -> int:
    """Probe, store the facts, print one line per measurement; the exit code."""
    from trigon_sync.cli.connections import uku_client

    inst = installation.ensure()
    with _sigterm_interrupts():
        contact = _trigon_contact(config)
        with uku_client(config) as uku:
            facts = probe_uku(
                uku, config, inst, now=clock.now, monotonic=time.monotonic, sleep=time.sleep
            )
    facts = dataclasses.replace(
        facts,
        trigon=None if isinstance(contact, str) else contact.differences,
        notes=facts.notes + _contact_notes(contact),
    )
    facts_file.save(facts.to_json())
    code = ExitCode.OK
    if facts.breaking:
        code = ExitCode.UNSAFE
    if facts.left_behind:
        code = ExitCode.SERVICE
    if as_json:
        output.print_json({"command": "doctor --probe", "exit_code": int(code), **facts.to_json()})
    else:
        for line in probe_lines(facts):
            output.stdout.print(Text(line), soft_wrap=True)
    for task_id in facts.left_behind:
        output.stderr.print(
            Text(
                f"error: could not delete the probe task {task_id} ({PROBE_TITLE!r}): "
                f"delete task {task_id} by hand in Uku"
            ),
            soft_wrap=True,
        )
    return int(code)


def _trigon_contact(config: Config) -> TrigonContact | str:
    """Trigon's answers against docs/trigon-api.md, or why they could not be read (the
    Uku probe still runs: its facts are what the run uses)."""
    from trigon_sync.cli.connections import trigon_client

    try:
        with trigon_client(config) as trigon:
            return probe_trigon(trigon, clock.now().date())
    except TrigonSyncError as exc:
        return f"Trigon was not read: {exc.message}"


def _contact_notes(contact: TrigonContact | str) -> tuple[str, ...]:
    return (contact,) if isinstance(contact, str) else contact.notes


def _yes(value: bool | None, yes: str, no: str) -> str:
    return "not measured" if value is None else (yes if value else no)


def probe_lines(facts: ProbeFacts) -> list[str]:
    """One line per measurement, for people."""
    lines = [f"Uku probe of {facts.probed_at}"]
    for f in facts.fields:
        verdict = "kept" if f.kept else "NOT KEPT"
        lines.append(
            f"  field {f.name!r} ({f.type}): wrote {f.written}, read {f.read_back!r}: {verdict}"
        )
    lines.append(
        "  identity token: "
        + _yes(facts.token_kept, "kept", "NOT KEPT")
        + ("" if not facts.description_html else " (Uku returns the description as HTML)")
    )
    for name, honoured in facts.filters.items():
        lines.append(f"  GET /tasks filter {name}: {_yes(honoured, 'honoured', 'dropped')}")
    lag = facts.list_lag_seconds
    lines.append(
        "  list lag: not measured"
        if lag is None
        else f"  list lag: {lag:.1f} s (settle wait {facts.settle_seconds(30.0):.1f} s)"
    )
    lines.append(
        "  Idempotency-Key on POST /tasks: "
        + _yes(facts.idempotency_replayed, "replayed", "ignored: a second task was made (deleted)")
    )
    lines.append(
        "  POST /tasks/{id}/complete: "
        + _yes(facts.complete_served, "served", "404: tasks are finished by the status PATCH")
    )
    rate = ", ".join(f"{k}={v}" for k, v in sorted(facts.rate_limit.items())) or "none"
    lines.append(f"  rate-limit headers: {rate}")
    if facts.openapi is None:
        lines.append("  /openapi.json: not served")
    else:
        lines.append(f"  /openapi.json: {len(facts.openapi)} difference(s)")
        lines.extend(f"    {d}" for d in facts.openapi)
    if facts.trigon is None:
        lines.append("  Trigon answers against docs/trigon-api.md: not read")
    elif not facts.trigon:
        lines.append("  Trigon answers against docs/trigon-api.md: as documented")
    else:
        lines.append(
            f"  Trigon answers against docs/trigon-api.md: {len(facts.trigon)} difference(s)"
        )
        lines.extend(f"    ✗ {d}" for d in facts.trigon)
    lines.append(f"  quirks: {', '.join(facts.quirks) or 'none'}")
    lines.extend(f"  ✗ {b}" for b in facts.breaking)
    lines.extend(f"  note: {n}" for n in facts.notes)
    return lines


def facts_line(facts: ProbeFacts | None, today: dt.date) -> str:
    """What ``doctor`` shows of the stored facts without probing."""
    if facts is None:
        return "no probe yet: `trigon-sync doctor --probe` measures Uku (once, by hand)"
    age = facts.age_days(today)
    state = "; ".join(facts.breaking) or "nothing breaks exactly once"
    lag = facts.list_lag_seconds
    lag_text = "lag not measured" if lag is None else f"list lag {lag:.1f} s"
    trigon = (
        ""
        if not facts.trigon
        else f"; Trigon differs from its contract in {len(facts.trigon)} way(s)"
    )
    return (
        f"probed {facts.probed_at[:10]} ({age} day(s) ago): {lag_text}, "
        f"quirks {', '.join(facts.quirks) or 'none'}; {state}{trigon}"
    )


def apply_facts(config: Config) -> tuple[Config, ProbeFacts | None]:
    """The run's settings with the stored facts applied (the settle wait from the measured
    lag); raises :class:`UkuUnsafe` naming the first fact that would break exactly once."""
    facts = stored_facts()
    if facts is None:
        return config, None
    if facts.breaking:
        raise UkuUnsafe(
            f"run-monthly writes nothing: the last probe ({facts.probed_at[:10]}) found "
            f"{facts.breaking[0][0].lower()}{facts.breaking[0][1:]}",
            hint="fix it in Uku, then run `trigon-sync doctor --probe` again",
        )
    settle = facts.settle_seconds(config.uku.settle_seconds)
    uku = dataclasses.replace(config.uku, settle_seconds=settle)
    return dataclasses.replace(config, uku=uku), facts
