"""Registry rate limits as configured (``TAKEDOWN_REGISTRY_RATE_LIMITS``).

Kept free of Django and of the network code: ``takedown/settings.py`` imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    count: int
    period: float


def parse_limit(item: str) -> tuple[str, Limit]:
    """``"lacnic=10/60"`` -> ("lacnic", Limit(10, 60.0)); ValueError when malformed."""
    m = re.fullmatch(r"\s*([a-z0-9.:-]+)\s*=\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*", item.lower())
    if not m or int(m.group(2)) < 1 or float(m.group(3)) <= 0:
        raise ValueError(f"{item!r} is not REGISTRY=COUNT/SECONDS (e.g. lacnic=10/60)")
    return m.group(1), Limit(int(m.group(2)), float(m.group(3)))
