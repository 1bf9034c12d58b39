"""Estonian registration codes (registrikood): one canonical form for matching.

Trigon, Uku and the Business Register each type the same code differently
("12 345 678", "12.345.678", "12345678"). Matching on anything but one
normalised form would create duplicate Uku clients, so every comparison in the
import goes through :func:`normalise_code`. Whether the code is *plausible* is a
separate question (:func:`has_valid_check_digit`): a code with a bad check digit
is still matched, only flagged.
"""

from __future__ import annotations

import re

from stdnum.ee import registrikood

CODE_LENGTH = 8

# Separators people and spreadsheets put inside codes: whitespace (incl. no-break
# spaces), dots, ASCII hyphen and the Unicode dashes a word processor substitutes.
_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]+")
_EIGHT_DIGITS = re.compile(r"[0-9]{8}", re.ASCII)


def normalise_code(text: str | None) -> str | None:
    """The 8-digit form of ``text``, or None when it cannot be a registration code.

    Only separators are removed; letters, other lengths and non-ASCII digits are
    rejected rather than guessed at, because a wrong guess links the wrong client.
    """
    if text is None:
        return None
    compact = _SEPARATORS.sub("", text)
    if _EIGHT_DIGITS.fullmatch(compact) is None:
        return None
    return compact


def has_valid_check_digit(code: str) -> bool:
    """True when python-stdnum accepts the code (known first digit and check digit).

    Takes a normalised code; anything else is simply not valid.
    """
    return registrikood.is_valid(code)
