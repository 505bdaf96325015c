"""Object ids as people type them into forms, filters and the audit search.

``str.isdigit`` is true for "²" (which ``int`` refuses) and ``int`` reads
thirty digits (which no database column holds): either reached a query and
answered 500.  An id here is ASCII digits within a 64-bit key, or nothing.
"""

from __future__ import annotations

import re

# The largest value of a BigAutoField (and of PostgreSQL's bigint).
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only: what ``int`` reads in every case.

    Use it instead of ``str.isdigit`` on text from outside (registry answers,
    headers, command arguments): ``"²".isdigit()`` is true and ``int("²")`` raises.
    """
    return text.isascii() and text.isdigit()


def parse_id(text: str) -> int | None:
    """The id ``text`` names, or None when it is not one (surrounding spaces are fine)."""
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
