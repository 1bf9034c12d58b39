"""Waiting until Uku's lists show a write: the one rule both create paths share.

The real Uku may list a newly created client or task only a little later, so "it is not
in the list" proves it absent only once that delay has passed since the create was
sent. ``settle_seconds`` (``[uku] settle_seconds``) is that delay.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trigon_sync import clock

if TYPE_CHECKING:
    from trigon_sync.settings.config import UkuSettings

from trigon_sync.http import waits

LOST_ANSWER_WAIT = "its lists to show a write whose answer was lost"
"""The wait's reason after a create whose answer was lost (a restored home's wait names
the restore instead: store/restore_mark.py's ``Mark.wait_reason``)."""

Now = Callable[[], dt.datetime]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Settler:
    """Sleeps until a create sent at some moment would show in Uku's lists."""

    settle_seconds: float
    now: Now
    sleep: Sleep

    @classmethod
    def for_settings(
        cls, uku: UkuSettings, now: Now | None = None, sleep: Sleep | None = None
    ) -> Settler:
        """The wait ``[uku] settle_seconds`` asks for, on the real clock unless ``now`` and
        ``sleep`` are given (a test's, or the monthly step's own)."""
        return cls(uku.settle_seconds, now or clock.now, sleep or time.sleep)

    def wait(self, since: dt.datetime, why: str) -> None:
        """Return once ``settle_seconds`` have passed since ``since`` (at most that long).

        ``why``: what the wait is for, as the caller knows it (a lost answer,
        :data:`LOST_ANSWER_WAIT`, or a home restored from a backup): a person watching is told."""
        wait = self.settle_seconds - max(0.0, (self.now() - since).total_seconds())
        if wait > 0:
            waits.announce(waits.Wait("Uku", wait, why))
            self.sleep(wait)
