"""What a person sees while ``run-monthly`` works: a bar per period, the wait under way,
and, on Ctrl-C, how many clients it is finishing.

A run can wait for a long time on purpose (a spent rate limit, a backoff before a
retry, the settle time after a lost answer); :mod:`trigon_sync.http.waits` announces each
wait before it starts and this display names it under the bar within its next refresh
(a tenth of a second), so a bar standing still never reads as a hang. The bar is shown
only on a terminal; the stopping line is shown whenever the run is not ``--quiet``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.progress import Progress
from rich.text import Text

from trigon_sync.cli import output
from trigon_sync.http import waits

if TYPE_CHECKING:
    from trigon_sync.schedule.rules import Run


class _Bars(Progress):
    """rich's progress bars with one line of text under them (the wait under way)."""

    note: Text | None = None

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        if self.note is not None:
            yield self.note


class RunProgress:
    """The monthly run's hooks (``on_period``, ``on_client``) and its wait listener."""

    def __init__(self, *, workers: int, bar: bool, speak: bool) -> None:
        self.workers = max(1, workers)
        self.speak = speak
        self._lock = threading.Lock()
        self._total = 0
        self._done = 0
        self._task: Any = None
        self._bars: _Bars | None = None
        self._stopping = False
        if bar:
            self._bars = _Bars(console=output.stderr, transient=False)
            self._bars.start()

    def on_period(self, run: Run, total: int) -> None:
        with self._lock:
            self._total, self._done = total, 0
        if self._bars is not None:
            self._bars.note = None
            self._task = self._bars.add_task(f"{run.period}", total=total)

    def on_client(self, outcome: Any) -> None:
        with self._lock:
            self._done += 1
        if self._bars is not None and self._task is not None:
            if not self._stopping:
                self._bars.note = None  # whatever was waited for is over: a client finished
            self._bars.advance(self._task)

    def on_wait(self, wait: waits.Wait) -> None:
        """Show ``wait`` under the bar (no bar: nothing; cron mail stays short)."""
        if self._bars is not None and not self._stopping:
            self._bars.note = Text(wait.describe(), style="yellow")
            self._bars.refresh()

    def in_flight(self) -> int:
        """Clients being worked on now: the pool keeps every worker busy while clients
        remain, so it is the smaller of the two."""
        with self._lock:
            return min(self.workers, max(0, self._total - self._done))

    def stopping(self, reason: str) -> None:
        """The first Ctrl-C or SIGTERM: say at once what happens now."""
        self._stopping = True
        if not self.speak:
            return
        line = (
            f"stopping ({reason}): finishing {self.in_flight()} in-flight client(s); "
            "Ctrl-C again stops at once"
        )
        if self._bars is not None:
            self._bars.note = Text(line, style="bold")
            self._bars.refresh()
        else:
            output.line(line)

    def stop(self) -> None:
        if self._bars is not None:
            self._bars.stop()
