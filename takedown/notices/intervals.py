"""Deadlines written the way handlers speak: "4h", "2bd" (business days), "30s".

Framework-free so ``settings.py`` can validate the values at start-up.  A
business day is a weekday that is not a Japanese national holidays
(``jpholiday``), the calendar the seed's statistics use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|bd)?\s*$", re.IGNORECASE)


class IntervalError(ValueError):
    pass


@dataclass(frozen=True)
class Interval:
    """Either a fixed number of seconds or a number of business days."""

    seconds: float = 0.0
    business_days: int = 0

    def after(self, start: datetime, tz: str = "Asia/Tokyo") -> datetime:
        if self.business_days:
            return add_business_days(start, self.business_days, tz)
        return start + timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        if self.business_days:
            return f"{self.business_days}bd"
        return f"{self.seconds:g}s"


def parse_interval(value: str | float | Interval) -> Interval:
    """``"2bd"`` -> 2 business days, ``"4h"`` -> 14400 s, ``10`` -> 10 s."""
    if isinstance(value, Interval):
        return value
    if isinstance(value, bool):
        raise IntervalError(f"{value!r} is not an interval")
    if isinstance(value, int | float):
        if value < 0:
            raise IntervalError(f"{value!r} is negative")
        return Interval(seconds=float(value))
    match = _PATTERN.match(str(value))
    if not match:
        raise IntervalError(
            f"{value!r} is not an interval (examples: 30s, 15m, 4h, 1d, 2bd for business days)"
        )
    amount, unit = float(match.group(1)), (match.group(2) or "s").lower()
    if unit == "bd":
        if amount != int(amount):
            raise IntervalError(f"{value!r}: business days must be a whole number")
        return Interval(business_days=int(amount))
    return Interval(seconds=amount * _UNITS[unit])


def is_business_day(day: date) -> bool:
    import jpholiday

    return day.weekday() < 5 and not jpholiday.is_holiday(day)


def add_business_days(start: datetime, days: int, tz: str = "Asia/Tokyo") -> datetime:
    """The same wall-clock time ``days`` business days later (in ``tz``).

    A start on a weekend or holiday counts from the next business day, so a
    notice sent on Saturday with "1bd" is due on Tuesday, not on Monday.
    """
    zone = ZoneInfo(tz)
    local = start.astimezone(zone)
    day = local.date()
    if not is_business_day(day):
        while not is_business_day(day):
            day += timedelta(days=1)
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    result = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
    return result.astimezone(start.tzinfo) if start.tzinfo else result
