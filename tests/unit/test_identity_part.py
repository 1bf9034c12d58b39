"""A listed task kept with only the identity part of its description is judged exactly as
with the whole of it (the period's listing keeps only that part, all run long)."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples_budget import examples
from trigon_sync.monthly.task_identity import TaskIdentity, identity_part
from trigon_sync.uku.models import Task

HOMES = ("0123456789abcdef", "fedcba9876543210")
PERIODS = ("2024-10", "2024-11")
CLIENTS = (7, 71, 8)
FIRMS = ("org:7 f1", "a&b <c>", "7")

IDENTITIES = [  # every home, period and client; the 0.1 firm ids in turn
    TaskIdentity(home, client, period, legacy_firm=(*FIRMS, None)[n % (len(FIRMS) + 1)])
    for n, (home, period, client) in enumerate(
        (h, p, c) for h in HOMES for p in PERIODS for c in CLIENTS
    )
]

marker = st.builds(
    lambda home, period, client, digits: (
        f"trigon-sync-task:{home}:{period}" + ("" if client is None else f":{client}") + digits
    ),
    st.sampled_from(HOMES),
    st.sampled_from(PERIODS),
    st.sampled_from((*CLIENTS, None)),
    st.sampled_from(("", "4", "x")),  # a longer client id, or a letter right after it
)
legacy = st.builds(
    lambda firm, period, pad: f"{pad}trigon-sync:{firm}:{period}{pad}",
    st.sampled_from(FIRMS),
    st.sampled_from(PERIODS),
    st.sampled_from(("", " ", "\t")),
)
prose = st.text(alphabet="ab &;<>:\n-#9", max_size=12)
piece = st.one_of(marker, legacy, prose)


def rendered(pieces: list[str], form: str) -> str:
    """The pieces as Uku may give them back: plain lines, paragraphs, or escaped inline."""
    if form == "plain":
        return "\n".join(pieces)
    if form == "paragraphs":
        return "".join(f"<p>{html.escape(p)}</p>" for p in pieces)
    return "<br>".join(html.escape(p).replace("-", "&#45;") for p in pieces)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(piece, max_size=6), st.sampled_from(("plain", "paragraphs", "inline")))
def test_the_identity_part_judges_every_identity_as_the_whole_description(
    pieces: list[str], form: str
) -> None:
    description = rendered(pieces, form)
    part = identity_part(description)
    for client in CLIENTS:
        whole = Task(1, "T", client, 1, None, "new", description)
        kept = Task(1, "T", client, 1, None, "new", part)
        for identity in IDENTITIES:
            assert identity.matches(kept) == identity.matches(whole), (identity, description)
            assert identity.keeps_marker(kept) == identity.keeps_marker(whole), identity


def test_the_identity_part_is_the_markers_alone() -> None:
    """A person's pages of notes around the marker are not kept; the marker is."""
    mine = TaskIdentity(HOMES[0], 7, "2024-10")
    notes = "<p>" + "Called the client about the missing invoices. " * 50 + "</p>"
    assert identity_part(f"{notes}<p>{mine.marker}</p>{notes}") == mine.marker
    assert identity_part("no marker here") == ""
    assert identity_part(None) is None
