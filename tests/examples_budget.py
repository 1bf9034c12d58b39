"""How many examples a property test tries: all of them in CI, a few in the fast lane.

README's fast lane (``TRIGON_SYNC_FAST_LANE=1 … pytest tests/unit``) is for a quick look
while working: every property still runs, on a handful of examples, so it answers in
seconds; CI (``.ci/run``) runs each with the count written at the test.
"""

from __future__ import annotations

import os

FAST_LANE = os.environ.get("TRIGON_SYNC_FAST_LANE", "") not in ("", "0")
FAST_EXAMPLES = 10


def examples(count: int) -> int:
    """``count`` in CI; at most :data:`FAST_EXAMPLES` in the fast lane."""
    return min(count, FAST_EXAMPLES) if FAST_LANE else count
