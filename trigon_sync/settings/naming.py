"""The one way an Uku topic or custom field is found from what the admin wrote.

``map-fields``, ``run-monthly`` (``monthly_plan.resolve_targets``), ``doctor`` and
config.toml's own duplicate check all use :func:`find`, so a name that one of them
accepts the others accept too, and a name two Uku items share is refused by all of them
with the ids to choose from.

The rule, written down once:

* an **integer** (``topic = 7`` in config.toml) is an id and matches only that id;
* a **name** matches an item whose name is equal after :func:`label_key`: Unicode NFC,
  leading/trailing whitespace dropped, every inner run of whitespace read as one space,
  and case folded (``str.casefold``, so "Müügiarve" = "MÜÜGIARVE");
* two or more items with that name: **ambiguous**, never a guess (give the id);
* no item with that name, but the text is plain ASCII digits naming an id: that id
  (``--topic 7`` on the command line).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Named(Protocol):
    """Anything Uku lists with an id and a name (topics, custom fields)."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


def label_key(name: str) -> str:
    """The form Uku topic and field labels are compared in (see the module docstring).

    Not clients/plan.py's ``firm_name_key``: a label is typed by the admin and matched
    against Uku's own list, so quote marks count and only Unicode form, spacing and case
    are forgiven; a firm's name comes from three systems that each spell it their way."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


@dataclass(frozen=True)
class Found(Generic[T]):
    """What a reference names: one item, several (ambiguous), or nothing."""

    ref: str | int
    item: T | None
    same_name: tuple[T, ...] = ()
    """Every item sharing the name when it is ambiguous (two or more)."""
    by_id: bool = False
    """The reference matched an id (so it is stored as the id)."""

    @property
    def ambiguous(self) -> bool:
        return len(self.same_name) > 1

    @property
    def ids(self) -> str:
        return ", ".join(str(item.id) for item in self.same_name)

    def problem(self, what: str) -> str | None:
        """One sentence for an error, or None when exactly one item was found."""
        if self.ambiguous:
            return f"more than one {what} is called {self.ref!r} (ids {self.ids}); give its id"
        if self.item is None:
            return f"no {what} {self.ref!r}"
        return None


def find(ref: str | int, items: Iterable[T]) -> Found[T]:
    """The item ``ref`` names among ``items`` (see the module docstring for the rule)."""
    listed = list(items)
    if isinstance(ref, int):
        match = next((item for item in listed if item.id == ref), None)
        return Found(ref, match, by_id=match is not None)
    text = ref.strip()
    key = label_key(text)
    named = tuple(item for item in listed if label_key(item.name) == key)
    if len(named) > 1:
        return Found(text, None, named)
    if named:
        return Found(text, named[0], named)
    if text.isascii() and text.isdigit():
        match = next((item for item in listed if item.id == int(text)), None)
        return Found(text, match, by_id=match is not None)
    return Found(text, None)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice ``word`` most likely meant (difflib's default cutoff), for a "did you mean"
    after a typo in a setting, a Trigon field key or an Uku name; None when nothing is close."""
    import difflib  # only a misspelt name needs it, not every config read

    close = difflib.get_close_matches(word, list(choices), n=1)
    return close[0] if close else None
