"""The dry-run and preview plan as a table: one row per client, one column per Uku field.

Each client's 14 counts used to come as a wrapped paragraph (216 lines for 36 clients).
Now a client is one row; the columns are headed by Uku's field names when they fit the
terminal, else by numbers with the names listed once above the table (the compact form).
Clients with nothing to write (``exists``, ``skip``) are collapsed into one line per action
with a count and a few names; failures follow the table, one line each with the reason.
A ``create`` that carries a reason (the real run creates only if Uku does not list the
task after a wait) gets a line per reason under the table.
A client's name is cut with "…" rather than wrapped, so every client stays one line in a
pipe or cron mail too; ``--json`` has every name and count in full.

A long table is printed :data:`ROWS_AT_ONCE` rows at a time, each slice with the column
widths of the whole table (so the output is the same text): rich renders every cell of a
table before it writes a line, 21 MB for 4,900 clients, which took a five-year home's
preview over 100 MB.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from trigon_sync.cli.output import plain

if TYPE_CHECKING:
    from trigon_sync.monthly.result import ClientOutcome

COLLAPSED = ("exists", "skip")
"""Actions that write nothing: their clients are counted, not listed row by row."""
NAMES_SHOWN = 3
CLIENT_MIN = 14
"""Narrowest the client column gets before the compact form is used."""
ACTION_WIDTH = 6
ROWS_AT_ONCE = 200
"""Rows rendered (and held as rich's segments) at a time."""


def plan_table(
    console: Console,
    outcomes: Sequence[ClientOutcome],
    keys: Sequence[str],
    name_of: Callable[[str], str],
    *,
    said: Collection[str] = (),
) -> tuple[list[RenderableType], list[Text]]:
    """What to print for one period: the legend (numbered columns only), the table of the
    clients that would be written, then the collapsed groups and the failures (but not
    those of the firms in ``said``, whose failure another line names with its reason:
    each (client, period) is said once)."""
    rows = [o for o in outcomes if not (o.ok and o.plan.action in COLLAPSED)]
    names = [name_of(k) for k in keys]
    digits = {k: max((len(str(o.plan.counts.get(k, 0))) for o in rows), default=1) for k in keys}
    named = [max(digits[k], _longest_word(n)) for k, n in zip(keys, names, strict=True)]
    numbered = [max(digits[k], len(str(i))) for i, k in enumerate(keys, start=1)]
    after = (
        _unless(outcomes)
        + _collapsed(outcomes)
        + _failures(o for o in outcomes if o.link.trigon_id not in said)
    )
    if not rows:
        return [], after
    if _fits(console.width, named):
        return [*_tables(console, rows, keys, names)], after
    legend = _legend(names)
    if _fits(console.width, numbered):
        numbers = [str(i) for i in range(1, len(keys) + 1)]
        return [legend, *_tables(console, rows, keys, numbers)], after
    return [legend, *(_compact(outcome, keys) for outcome in rows)], after


def _tables(
    console: Console, rows: Sequence[ClientOutcome], keys: Sequence[str], headers: Sequence[str]
) -> list[Table]:
    """The table in slices of :data:`ROWS_AT_ONCE` rows, each to be printed on its own
    (rich holds one print's output whole), the header on the first: the whole table's
    column widths are measured once (cell by cell, nothing rendered) and fixed in every
    slice, so the slices print the same text as the one table."""
    if len(rows) <= ROWS_AT_ONCE:
        return [_table(rows, keys, headers)]
    # rich's own width calculation, the one its render would do (pinned by a test that
    # compares the slices with the whole table)
    whole = _table(rows, keys, headers)
    widths = [
        width - whole._get_padding_width(column)  # a column's width excludes its padding
        for column, width in enumerate(whole._calculate_column_widths(console, console.options))
    ]
    del whole
    return [
        _table(rows[i : i + ROWS_AT_ONCE], keys, headers, widths=widths, header=i == 0)
        for i in range(0, len(rows), ROWS_AT_ONCE)
    ]


def _table(
    rows: Sequence[ClientOutcome],
    keys: Sequence[str],
    headers: Sequence[str],
    *,
    widths: Sequence[int] | None = None,
    header: bool = True,
) -> Table:
    """``widths``: every column's width fixed (a slice of a longer table)."""
    table = Table(
        box=None, pad_edge=False, collapse_padding=True, show_header=header, header_style="bold"
    )
    fixed = iter(widths) if widths is not None else None
    table.add_column(
        "Client",
        no_wrap=True,
        overflow="ellipsis",
        min_width=CLIENT_MIN,
        ratio=1,
        width=next(fixed) if fixed else None,
    )
    table.add_column("Action", no_wrap=True, width=next(fixed) if fixed else None)
    for name in headers:
        table.add_column(
            name, justify="right", no_wrap=name.isdigit(), width=next(fixed) if fixed else None
        )
    for outcome in rows:
        counts = outcome.plan.counts
        row = [str(counts[k]) if k in counts else "–" for k in keys]
        table.add_row(_who(outcome), _action(outcome), *row)
    return table


def _compact(outcome: ClientOutcome, keys: Sequence[str]) -> Text:
    """One client on one logical line, for counts too wide for columns: ``1:12 2:3 …``."""
    counts = outcome.plan.counts
    shown = " ".join(f"{i}:{counts[k]}" for i, k in enumerate(keys, start=1) if k in counts)
    return Text.assemble(_who(outcome), " ", (_action(outcome), "bold"), " ", shown)


def _who(outcome: ClientOutcome) -> Text:
    link = outcome.plan.link
    return Text(plain(f"{link.name} ({link.registration_code or link.trigon_id})"))


def _action(outcome: ClientOutcome) -> str:
    return outcome.plan.action if outcome.ok else "fail"  # what the real run would do


def _longest_word(name: str) -> int:
    return max((len(word) for word in name.split()), default=1)


def _fits(width: int, columns: Sequence[int]) -> bool:
    """Whether field columns of these widths (one space apart) leave the client column
    :data:`CLIENT_MIN` characters next to the action."""
    return CLIENT_MIN + 1 + ACTION_WIDTH + sum(w + 1 for w in columns) <= width


def _legend(names: Sequence[str]) -> Text:
    """``1 Sales invoice created · 2 …``: the numbered columns' Uku field names."""
    text = Text("Columns: ", style="bold")
    for index, name in enumerate(names, start=1):
        if index > 1:
            text.append(" · ", style="dim")
        text.append(f"{index} {name}")
    return text


def _unless(outcomes: Sequence[ClientOutcome]) -> list[Text]:
    """One line per reason a ``create`` in the table carries: a create the real run makes
    only if Uku does not list the task after its wait (monthly/actions.py ``look_reason``:
    an earlier run's create lost its answer, or the home was restored from a backup)."""
    groups: dict[str, list[ClientOutcome]] = {}
    for outcome in outcomes:
        reason = outcome.plan.reason
        if outcome.ok and outcome.plan.unless_listed and reason is not None:
            groups.setdefault(reason, []).append(outcome)
    lines = []
    for reason, group in groups.items():
        shown = ", ".join(plain(o.plan.link.name) for o in group[:NAMES_SHOWN])
        more = f" and {len(group) - NAMES_SHOWN} more" if len(group) > NAMES_SHOWN else ""
        lines.append(
            Text.assemble(
                ("create: ", "bold"),
                f"{len(group)} client(s) in the table, each {plain(reason)}: {shown}{more}",
            )
        )
    return lines


def _collapsed(outcomes: Sequence[ClientOutcome]) -> list[Text]:
    lines = []
    for action in COLLAPSED:
        group = [o for o in outcomes if o.ok and o.plan.action == action]
        if not group:
            continue
        reasons = sorted({o.plan.reason for o in group if o.plan.reason})
        why = f" ({'; '.join(reasons[:2])}{'; …' if len(reasons) > 2 else ''})" if reasons else ""
        shown = ", ".join(plain(o.plan.link.name) for o in group[:NAMES_SHOWN])
        more = f" and {len(group) - NAMES_SHOWN} more" if len(group) > NAMES_SHOWN else ""
        lines.append(
            Text.assemble(
                (f"{action}: ", "bold"),
                f"{len(group)} client(s) with nothing to write{why}: {shown}{more}",
            )
        )
    if lines:
        lines.append(Text("`run-monthly --dry-run --json` lists every client", style="dim"))
    return lines


def _failures(outcomes: Iterable[ClientOutcome]) -> list[Text]:
    return [
        Text.assemble(
            ("fail: ", "bold red"),
            plain(f"{o.plan.link.name} ({o.plan.link.registration_code or o.plan.link.trigon_id})"),
            f": {plain(o.error)}",
        )
        for o in outcomes
        if not o.ok
    ]
