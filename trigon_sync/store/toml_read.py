"""How the home's TOML files are parsed (state.toml, config.toml, the token file): one place.

Through ``tomli``, not the standard library's ``tomllib``. They are the same parser by the
same author (``tomllib`` is tomli 2.0 copied into Python 3.11), with the same documents,
errors and messages (config_file.py reads the line number out of them), but tomli is
published with wheels compiled by mypyc, and parsing is what the calls made all day long
pay: state.toml holds one table per linked client (about 0.8 MB at 5,000 clients), which
``tomllib`` parses in 0.45-0.7 s of CPU on the benchmark machine and compiled tomli in
under 0.08 s (docs/performance.md, "Nightly no-op and ``status --json``"). Where no
compiled wheel exists pip installs tomli's pure-Python wheel, which is as fast as
``tomllib``, so there is no fallback to keep: the dependency is always there.
"""

from __future__ import annotations

from typing import Any

from tomli import TOMLDecodeError
from tomli import loads as _loads

__all__ = ["TOMLDecodeError", "loads"]


def loads(text: str) -> dict[str, Any]:
    """The TOML document ``text`` as plain values (dates as ``datetime.date``);
    :class:`TOMLDecodeError` (a ``ValueError``) when it is not valid TOML."""
    return _loads(text)
