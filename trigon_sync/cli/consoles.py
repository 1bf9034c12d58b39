"""The rich consoles commands print tables and screens on (output.py makes them on first use).

Apart from output.py so that importing output (which every command and the error boundary
do) does not import rich: the nightly no-op and ``status --json`` print no rich output,
and rich's console is a good part of a start-up's imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Console
from rich.segment import Segment


class SafeConsole(Console):
    """A console that passes every text it writes through ``clean`` (rich's own cursor
    movements excepted): output.py's cleaning, so that no escape sequence or known
    secret in a printed text reaches the terminal."""

    def __init__(self, *, clean: Callable[[str], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clean = clean

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            segment if segment.control else Segment(self._clean(segment.text), segment.style)
            for segment in buffer
        )
