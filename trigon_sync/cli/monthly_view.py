"""How ``run-monthly`` shows what it did: the summary, the dry-run plan, cron mail lines.

Rendering only: the run's result objects come in (monthly/result.py), text goes out on
stdout or stderr. Anything that affects billing (owed and failed (client, period) pairs,
periods a stopped run did not finish, flagged counts) goes to stderr, also with
``--quiet``, so cron mails it: each (client, period) once, and one bounded error line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trigon_sync.monthly.plan import DONE_EARLIER
from trigon_sync.schedule.run_text import window_text
from trigon_sync.settings.config import Config

if TYPE_CHECKING:
    from trigon_sync.clients.auto_import import AutoImport
    from trigon_sync.monthly.result import MonthlyResult


# -- rendering ----------------------------------------------------------------------------


def render(
    result: MonthlyResult,
    config: Config,
    *,
    as_json: bool,
    quiet: bool,
    auto: AutoImport | None = None,
    preview: bool = False,
) -> None:
    from trigon_sync.cli import output

    for note in result.notes:  # a restored home's wait: stderr, so cron mails it
        output.line(f"note: {note}")
    for warning in result.warnings:  # Uku's words: scrubbed, shown as plain text
        output.line(f"warning: {warning}")
    for repair in result.repairs:  # a task a person deleted or moved: billing, so stderr
        output.line(repair.message())
    for pair in result.owed:  # every night it stays owed, cron mail says so
        output.line(pair.line(result.today))
    # each failure no owed: line names gets one failed: line, unless the text below names
    # it (the dry run's table, a re-count's changes); cron mail also gets the periods
    # a stopped run did not finish
    named_below = not (quiet or as_json) and (result.dry_run or result.rerun is not None)
    for line in [] if named_below else failed_lines(result):
        output.line(line)
    if quiet:
        for line in stopped_lines(result):
            output.line(line)
    for line in flag_lines(result):  # billing-relevant: stderr, so cron mails it
        output.line(line)
    if as_json:
        if not quiet:
            doc = result.to_json()
            if result.dry_run:
                doc["dry_run"] = True  # a real run's document says false
                doc["preview"] = preview
            if auto is not None:
                doc["auto_import"] = auto.to_json()
            output.print_json(doc)
        return
    if quiet:
        return
    if result.dry_run and result.rerun:
        for line in recount_lines(result, config):
            output.stdout.print(line, markup=False, soft_wrap=True)
        return
    if result.dry_run:
        render_plan(result, config, preview=preview)
        return
    from trigon_sync.dates import format_ee

    if not result.periods and not result.deferred:
        output.stdout.print("Nothing left to do: another run has just finished the period.")
    for period in result.periods:
        run = period.run
        states = {"create": 0, "update": 0, "exists": 0, "skip": 0, "done": 0}
        for outcome in period.outcomes:
            if outcome.ok:
                earlier = outcome.plan.reason == DONE_EARLIER
                states["done" if earlier else outcome.plan.action] += 1
        held = sum(1 for o in period.failed if o.plan.held)
        failed = len(period.failed) - held
        status = "complete" if period.complete else "NOT complete"
        if period.complete and period.failed:
            status = "complete; the failed clients owe it"
        if period.late:
            status = "owed tasks made late" if period.complete else "still owed by some"
        if result.rerun:
            status = "re-counted" if period.complete else "re-count incomplete"
        output.stdout.print(
            f"{run.period} ({window_text(run)}, "
            f"import day {format_ee(run.import_day)}): {states['create']} created, "
            f"{states['update']} updated, {states['exists']} unchanged, "
            f"{states['done']} done by an earlier run"
            + (f", {states['skip']} without a task" if states["skip"] else "")
            + (f", {failed} failed" if failed else "")
            + (f", {held} held for review" if held else "")
            + (f", {period.not_started} not started" if period.not_started else "")
            + f" — {status}",
            markup=False,
            soft_wrap=output.unwrapped(output.stdout),
        )
    if result.rerun:
        for line in recount_lines(result, config, heads=False):
            output.stdout.print(line, markup=False, soft_wrap=True)
    if result.deferred:
        later = ", ".join(r.period for r in result.deferred)
        output.stdout.print(
            f"Not started: {later} (the run stopped before it; the next run does it).",
            markup=False,
        )


def failed_lines(result: MonthlyResult) -> list[str]:
    """One ``failed:`` line per failure that no ``owed:`` line names (a re-count's, or
    one in a period the run stopped in): each (client, period) is said once."""
    return [
        f"failed: {o.link.name} ({o.link.registration_code or o.link.trigon_id}) in period "
        f"{period}: {o.error}"
        for period, o in result.unowed_failures()
    ]


def stopped_lines(result: MonthlyResult) -> list[str]:
    """What cron mail carries about periods a stopped run (a signal, its time bound) did
    not finish or start: the next run does them. A failed client is no such case: it
    owes its period (its ``owed:`` line) and no period waits for another."""
    from trigon_sync.dates import format_ee

    lines = []
    for period in result.periods:
        if not period.not_started:
            continue
        run = period.run
        what = f"the re-count of {run.period}" if result.rerun else f"period {run.period}"
        again = (
            f"run `trigon-sync run-monthly --rerun {run.period}` again"
            if result.rerun
            else "the next run does them"
        )
        lines.append(
            f"not finished: {what} ({window_text(run)}): {period.not_started} client(s) "
            f"not started; {again}"
        )
    lines.extend(
        f"not started: period {run.period} (import day {format_ee(run.import_day)}): the "
        "run stopped before it; the next run does it"
        for run in result.deferred
    )
    return lines


def uku_name(result: MonthlyResult, config: Config, key: str) -> str:
    """The Uku field a count goes into, by the name Uku gives it (config.toml may hold an
    id, when two Uku fields share a name)."""
    if key in result.field_names:
        return result.field_names[key]
    target = config.fields.get(key)
    return f"Uku field {target}" if isinstance(target, int) else str(target or key)


def render_plan(result: MonthlyResult, config: Config, *, preview: bool = False) -> None:
    """The dry-run plan within the terminal: a table of the clients' actions and counts
    under Uku's field names (cli/plan_table.py), then a totals line per period."""
    from rich.table import Table

    from trigon_sync.cli import output
    from trigon_sync.cli.plan_table import plan_table
    from trigon_sync.dates import format_ee
    from trigon_sync.settings import fields

    unwrapped = output.unwrapped(output.stdout)
    for period in result.periods:
        run = period.run
        keys = [k for k in fields.KEYS if any(k in o.plan.counts for o in period.outcomes)]
        output.stdout.print(
            f"{run.period}: import day {format_ee(run.import_day)}, counts "
            f"{window_text(run)} "
            + ("(preview, so far)" if preview else "(dry run)")
            + (" — owed clients only" if period.late else ""),
            markup=False,
            soft_wrap=unwrapped,
        )
        actions: dict[str, int] = {}
        totals = dict.fromkeys(keys, 0)
        for outcome in period.outcomes:
            action = outcome.plan.action if outcome.ok else "fail"
            actions[action] = actions.get(action, 0) + 1
            for k in keys:
                totals[k] += outcome.plan.counts.get(k, 0)
        owing = {p.firm for p in result.owed if p.period == run.period}  # an owed: line each
        shown, after = plan_table(
            output.stdout,
            period.outcomes,
            keys,
            lambda k: uku_name(result, config, k),
            said=owing,
        )
        for part in shown:
            output.stdout.print(part, soft_wrap=not isinstance(part, Table) and unwrapped)
        for line in after:
            output.stdout.print(line, soft_wrap=unwrapped)
        unless = sum(1 for o in period.outcomes if o.ok and o.plan.unless_listed)
        done = (
            ", ".join(
                f"{n} {action}"
                + (
                    f" ({unless} unless Uku lists it after the wait)"
                    if action == "create" and unless
                    else ""
                )
                for action, n in actions.items()
            )
            or "no clients"
        )
        sums = ", ".join(f"{uku_name(result, config, k)} {totals[k]}" for k in keys)
        summed = f"; {sums}" if keys else ""
        output.stdout.print(f"Totals: {done}{summed}", markup=False, soft_wrap=unwrapped)
    for stopped in stopped_lines(result):
        output.stdout.print(stopped, markup=False, soft_wrap=unwrapped)


def flag_lines(result: MonthlyResult) -> list[str]:
    """One ``flag:`` line per client whose counts look wrong (held ones say so)."""
    lines = []
    for period in result.periods:
        for outcome in period.outcomes:
            plan = outcome.plan
            if not plan.flags:
                continue
            what = "; ".join(flag.message for flag in plan.flags)
            held = " — held, not written" if plan.held else ""
            lines.append(
                f"flag: {period.run.period} {plan.link.name} ({plan.link.registration_code}): "
                f"{what}{held}"
            )
    return lines


def summary_line(result: MonthlyResult, seconds: float, *, halted: str | None = None) -> str:
    periods = ",".join(p.run.period for p in result.periods) or "-"
    failed = "; ".join(
        f"{o.link.trigon_id} {o.link.registration_code}: {o.error}" for o in result.failed
    )
    kind = "dry-run" if result.dry_run else ("rerun" if result.rerun else "run")
    return (
        f"run-monthly {kind} today={result.today} periods={periods} "
        f"complete={','.join(p.run.period for p in result.periods if p.complete) or '-'} "
        f"clients_ok={result.ok_count} clients_failed={len(result.failed)} "
        f"created={result.count('created')} updated={result.count('updated')} "
        f"duration={seconds:.1f}s"
        + (f" interrupted={halted.replace(' ', '-')}" if halted else "")
        + (f" failures: {failed}" if failed else "")
    )


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


def recount_lines(result: MonthlyResult, config: Config, *, heads: bool = True) -> list[str]:
    """What a ``--rerun`` changes on the invoices, per period: each changed client with
    every changed count as ``old -> new`` under its Uku field name and the change, the
    finished tasks left alone apart, failures, one line for the unchanged clients, and the
    total change. The same for the dry run (would) and the real run (did)."""
    from trigon_sync.dates import format_ee

    lines: list[str] = []
    verb = "would change" if result.dry_run else "changed"
    for period in result.periods:
        run = period.run
        if heads:
            lines.append(
                f"{run.period}: re-count of {format_ee(run.window_start)}–"
                f"{format_ee(run.window_end)} (import day {format_ee(run.import_day)}), dry run"
            )
        for outcome in period.changed:
            plan = outcome.plan
            who = f"{plan.link.name} ({plan.link.registration_code or plan.link.trigon_id})"
            if plan.action == "create":
                counts = ", ".join(
                    f"{uku_name(result, config, k)} {v}" for k, v in plan.counts.items()
                )
                lines.append(f"  restore {who}: task made again with {counts}")
                continue
            changed = ", ".join(
                f"{uku_name(result, config, k)} {'—' if old is None else old} -> {new} "
                f"({_signed(plan.change(k))})"
                for k, (old, new) in plan.changes.items()
            )
            lines.append(f"  update  {who}: {changed}")
        for outcome in period.finished_kept:
            plan = outcome.plan
            who = f"{plan.link.name} ({plan.link.registration_code or plan.link.trigon_id})"
            would = ", ".join(
                f"{uku_name(result, config, k)} {'—' if old is None else old} -> {new}"
                for k, (old, new) in plan.changes.items()
            )
            lines.append(
                f"  finished: not changed  {who}, task {plan.task_id} ({would} with "
                "--include-finished)"
            )
        for outcome in period.failed:
            link = outcome.link
            lines.append(
                f"  fail    {link.name} ({link.registration_code or link.trigon_id}): "
                f"{outcome.error}"
            )
        if period.unchanged:
            lines.append(f"  {period.unchanged} client(s) unchanged")
        total = period.total_change()
        summed = ", ".join(
            f"{uku_name(result, config, k)} {_signed(n)}" for k, n in total.items() if n
        )
        lines.append(
            f"  Total change in {run.period}: {summed or 'none'} ({len(period.changed)} "
            f"client(s) {verb}"
            + (
                f", {len(period.finished_kept)} finished not changed"
                if period.finished_kept
                else ""
            )
            + ")"
        )
    return lines
