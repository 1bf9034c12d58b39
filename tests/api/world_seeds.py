"""Sandbox seeds the api tests build their worlds from, generated and read once per worker.

``SandboxWorld(seed_dict)`` reads the whole document again each time (a fingerprint of
its JSON, then the typed build): ~0.4 s of CPU for the 300-firm import seed, in every
test that wants a fresh world. A world built from an already read :class:`Seed` skips
that and is just as fresh: the seed's Trigon part is frozen dataclasses in tuples, and
the stores copy what they change (UkuStore copies every client and task, the register is
copied row by row), so worlds built from one Seed never see each other's changes
(``test_worlds_from_one_read_seed_share_nothing`` holds that).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from trigon_sync.sandbox import SandboxWorld, generate_seed
from trigon_sync.sandbox.seed import Seed
from trigon_sync.sandbox.seed_reader import parse_seed


@cache
def seed_document(firms: int, **options: Any) -> dict[str, Any]:
    """``generate_seed(firms, **options)``, made once per worker: read it, never change it
    (``copy.deepcopy`` it first)."""
    return generate_seed(firms, **options)


@cache
def read_seed(firms: int, **options: Any) -> Seed:
    """:func:`seed_document` checked and read into the typed seed, once per worker."""
    return parse_seed(seed_document(firms, **options))


def fresh_world(firms: int, **options: Any) -> SandboxWorld:
    """A new world of the generated seed: its own stores and logs, nothing shared."""
    return SandboxWorld(read_seed(firms, **options))
