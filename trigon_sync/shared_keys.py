"""Read-only mappings that share their keys: one key table per set of keys, a tuple of
values each.

A monthly run holds one of these per client for its whole length, all with the same keys:
the period's listing keeps every summary task of the period with its fourteen custom-field
values (a re-count holds 5,000), and every client's outcome keeps its fourteen counts. As
a ``dict`` each such mapping cost about 650 bytes; here each keeps only a tuple of its
values and the key -> position table is shared, which is what kept the re-count of a
5,000-client firm over its 100 MB budget. Built once from a mapping and never changed, as
a task's values and a client's counts are.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterator, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@functools.lru_cache(maxsize=64)
def _layout(keys: tuple[Hashable, ...]) -> Mapping[Hashable, int]:
    """Key -> position, one table per set of keys in their order (a run meets a few; the
    bound keeps tasks of other work, each with its own fields, from growing it)."""
    return {key: at for at, key in enumerate(keys)}


class SharedKeys(Mapping[K, V]):
    """A read-only mapping equal to the one it was made from, in its order."""

    __slots__ = ("_at", "_values")

    def __init__(self, items: Mapping[K, V]) -> None:
        self._at: Mapping[K, int] = _layout(tuple(items))  # type: ignore[assignment]
        self._values = tuple(items.values())

    def __getitem__(self, key: K) -> V:
        return self._values[self._at[key]]

    def __iter__(self) -> Iterator[K]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return repr(dict(self))
