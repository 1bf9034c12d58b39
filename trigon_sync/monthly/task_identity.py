"""Which Uku task is "ours" for one client and period: the identity of a summary task.

Uku bills from these tasks, so finding our own task again decides between an update and
a second invoice. Nothing Uku publishes gives a task a key we choose, so the identity is
built from what survives the real API:

* **the Uku client** the task belongs to (``client_id``, an integer Uku itself returns);
* **the period** (``YYYY-MM``);
* **this installation** (a random id made once per home, ``state.installation_id``), so
  two homes writing into one Uku company never update or count each other's tasks, even
  when their Trigon firm ids overlap.

Period, installation and client travel in a marker token written into the task
description, ``trigon-sync-task:<installation>:<period>:<client id>``. The client is in
the token because a person may move a task onto another client in Uku: that client must
not take the moved task for its own (and bill from its counts), so a task is ours only
when it sits on the client its token names. Tokens written before the client was part of
them (``trigon-sync-task:<installation>:<period>``) are recognised for the client they
sit on, unless the run's records say the task was made for another client (``claimed``
in :func:`find`). Uku keeps descriptions as rich text and may
return them as HTML (``<p>…</p>``, ``<br>``, entities, wrapped lines), so the marker is a
single word of ``[a-z0-9:-]`` that no rendering changes, and it is looked for anywhere in
the description's plain text, never as a line that must come back byte for byte. The
Trigon firm id (an opaque string that may hold ``:``, spaces, anything) is not part of
it.

Tasks written by trigon-sync 0.1 carry ``trigon-sync:<firm id>:<period>`` on a line of
their own and no installation; they are still recognised for the client they belong to.

Pure: tasks in, a decision out.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from trigon_sync.uku.models import Task

LOOK_AHEAD = dt.timedelta(days=62)
"""How far past its import day a period's task is looked for (its date edited in Uku)."""
MARKER_PREFIX = "trigon-sync-task:"
LEGACY_PREFIX = "trigon-sync:"
_MARKER = re.compile(
    r"trigon-sync-task:(?P<installation>[0-9a-f]{16}):(?P<period>\d{4}-\d{2})"
    r"(?::(?P<client>\d+))?(?![0-9])"
)
_BLOCKS = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})


class _PlainText(HTMLParser):
    """Rich text -> text: tags dropped, block tags become line breaks, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(description: str | None) -> str:
    """A description as a reader sees it, whether Uku returned plain text or HTML."""
    if not description:
        return ""
    if "<" not in description:
        return html.unescape(description)
    parser = _PlainText()
    parser.feed(description)
    parser.close()
    return "".join(parser.parts)


def identity_part(description: str | None) -> str | None:
    """What of a description any identity reads: its markers and trigon-sync 0.1's marker
    lines, one a line, in a form :func:`plain_text` gives back as they were.

    A period's listing keeps its tasks for the whole run, and a description is rich text
    a person may have added pages to; a task kept with only this part is judged by
    :meth:`TaskIdentity.matches` and :meth:`TaskIdentity.keeps_marker` exactly as with
    its whole description (every marker the whole text holds is here, whole, so a marker
    found in it as a substring is found in this too)."""
    if not description:
        return description
    text = plain_text(description)
    kept = [found.group(0) for found in _MARKER.finditer(text)]
    kept += [line.strip() for line in text.splitlines() if line.strip().startswith(LEGACY_PREFIX)]
    return html.escape("\n".join(kept), quote=False)


@dataclass(frozen=True)
class TaskIdentity:
    """Our summary task of one Uku client for one period, written by one installation."""

    installation: str
    client_id: int
    period: str
    legacy_firm: str | None = None
    """The Trigon firm id, only to recognise tasks trigon-sync 0.1 wrote."""

    @property
    def marker(self) -> str:
        return f"{MARKER_PREFIX}{self.installation}:{self.period}:{self.client_id}"

    def describe(self, text: str) -> str:
        """The description to write: ``text``, then the marker on a paragraph of its own."""
        return f"{text.rstrip()}\n\n{self.marker}" if text.strip() else self.marker

    def matches(self, task: Task) -> bool:
        """Whether ``task`` is this identity's task (client, period and installation): it
        sits on this client, and a token naming a client names this one."""
        if task.client_id != self.client_id:
            return False
        text = plain_text(task.description)
        for found in _MARKER.finditer(text):
            if (found["installation"], found["period"]) != (self.installation, self.period):
                continue
            if found["client"] is None or int(found["client"]) == self.client_id:
                return True
        if self.legacy_firm is None:
            return False
        legacy = f"{LEGACY_PREFIX}{self.legacy_firm}:{self.period}"
        return any(line.strip() == legacy for line in text.splitlines())

    def keeps_marker(self, task: Task) -> bool:
        """Whether Uku kept the marker in what it returned (else we could not find it)."""
        return self.matches(task) and self.marker in plain_text(task.description)


@dataclass(frozen=True)
class Found:
    """The task of an identity among a listing, and any doubles Uku holds of it."""

    task: Task | None
    doubles: tuple[Task, ...] = ()


Claims = Mapping[int, int]
"""Task id -> the Uku client the run's records say the task was made for."""


def find(identity: TaskIdentity, tasks: Iterable[Task], claimed: Claims | None = None) -> Found:
    """Our task among ``tasks``: the oldest match (lowest id) is kept, others are doubles.

    The listing may hold anything (Uku drops filters it does not know), so every task is
    judged by its identity alone; a task ``claimed`` for another client (one moved here
    in Uku, with a token too old to name its client) is not this client's.
    """
    claims = claimed or {}
    mine = sorted(
        (
            t
            for t in tasks
            if identity.matches(t) and claims.get(t.id, identity.client_id) == identity.client_id
        ),
        key=lambda t: t.id,
    )
    if not mine:
        return Found(None)
    return Found(mine[0], tuple(mine[1:]))


def index(
    identities: Sequence[TaskIdentity], tasks: Iterable[Task], claimed: Claims | None = None
) -> dict[int, Found]:
    """``find`` for many clients of one period over one listing: client id -> Found."""
    by_client: dict[int | None, list[Task]] = {}
    for task in tasks:  # a task of no client (None) is no identity's
        by_client.setdefault(task.client_id, []).append(task)
    return {
        identity.client_id: find(identity, by_client.get(identity.client_id, ()), claimed)
        for identity in identities
    }


@dataclass(frozen=True)
class TaskQuery:
    """Where one period's tasks are listed. The filters only make the listing smaller
    (Uku drops those it does not know); every task returned is judged by its identity."""

    topic_id: int
    date_from: dt.date
    date_to: dt.date

    @classmethod
    def for_period(cls, topic_id: int, window_start: dt.date, import_day: dt.date) -> TaskQuery:
        """A period's tasks are dated its import day; a date moved by hand in Uku within
        the window or up to two months later is still found."""
        return cls(topic_id, window_start, import_day + LOOK_AHEAD)
