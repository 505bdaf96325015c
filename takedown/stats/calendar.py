"""Fiscal years, months and Japanese business days.

The statistics are counted per fiscal year (April to March, as Japanese
organisations report them) and per month, in the deployment's time zone.
Time to closure is given in hours and in business days: the number of
business days (weekdays that are not Japanese national holidays, nor one of
``STATS_CLOSED_DAYS``) after the day of the notice up to and including the
day the site was confirmed down.  A site taken down the same day took 0
business days; one noticed on a Friday and down on the following Monday took
1, whatever the hours; a Friday notice answered on the Saturday took 0.  That
is how a Japanese handler counts 営業日 ("closed on the third business day").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

import jpholiday
from django.conf import settings
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.formats import date_format
from django.utils.translation import pgettext

from takedown.lib.ids import ascii_digits

FY_FIRST_MONTH = 4


def local_tz() -> tzinfo:
    return timezone.get_default_timezone()


def fiscal_year_of(day: date) -> int:
    """The fiscal year a local date belongs to (FY2025 = April 2025 to March 2026)."""
    return day.year if day.month >= FY_FIRST_MONTH else day.year - 1


def fiscal_year_of_month(month: str) -> int:
    """``"2026-02"`` -> 2025."""
    year, mon = int(month[:4]), int(month[5:7])
    return year if mon >= FY_FIRST_MONTH else year - 1


def month_start(year: int, month: int, tz: tzinfo | None = None) -> datetime:
    # Normalise month overflow so callers can write ``month + 1``.
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=tz or local_tz())


def month_key(moment: datetime) -> str:
    local = timezone.localtime(moment, local_tz())
    return f"{local.year:04d}-{local.month:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last`` inclusive."""
    y, m = int(first[:4]), int(first[5:7])
    ly, lm = int(last[:4]), int(last[5:7])
    out = []
    while (y, m) <= (ly, lm):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@dataclass(frozen=True)
class Period:
    """A half-open span of time ``[start, end)`` the statistics are computed over.

    ``months`` is the number of calendar months it covers up to ``as_of`` (a
    fiscal year that is still running has fewer than 12), the divisor of
    "sites per month".
    """

    start: datetime
    end: datetime
    key: str
    as_of: datetime
    fiscal_year: int | None = None

    @property
    def partial(self) -> bool:
        return self.as_of < self.end

    @property
    def effective_end(self) -> datetime:
        return min(self.end, self.as_of)

    @property
    def first_month(self) -> str:
        return month_key(self.start)

    @property
    def last_month(self) -> str:
        # The month containing the last instant of the period (or of as_of).
        return month_key(self.effective_end - timedelta(microseconds=1))

    @property
    def month_keys(self) -> list[str]:
        if self.effective_end <= self.start:
            return [self.first_month]
        return months_between(self.first_month, self.last_month)

    @property
    def months(self) -> int:
        return len(self.month_keys)

    def label(self) -> str:
        """``FY2025``, or ``FY2025 (to September)`` while the year is running."""
        if self.fiscal_year is not None:
            return fiscal_year_label(self.fiscal_year, self.last_month if self.partial else None)
        if self.key == "all":
            return pgettext("stats", "all time")
        if self.is_month:
            return date_format(timezone.localtime(self.start, local_tz()), "YEAR_MONTH_FORMAT")
        return self.key

    @property
    def is_month(self) -> bool:
        return len(self.key) == 7 and self.key[4] == "-" and self.fiscal_year is None


def fiscal_year_label(year: int, to_month: str | None = None) -> str:
    if to_month is None:
        return pgettext("stats", "FY%(year)s") % {"year": year}
    return pgettext("stats", "FY%(year)s (to %(month)s)") % {
        "year": year,
        "month": MONTHS[int(to_month[5:7])],
    }


def fiscal_year_period(year: int, *, as_of: datetime | None = None) -> Period:
    tz = local_tz()
    return Period(
        start=month_start(year, FY_FIRST_MONTH, tz),
        end=month_start(year + 1, FY_FIRST_MONTH, tz),
        key=f"FY{year}",
        as_of=as_of or timezone.now(),
        fiscal_year=year,
    )


def month_period(year: int, month: int, *, as_of: datetime | None = None) -> Period:
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is not 1-12")
    tz = local_tz()
    return Period(
        start=month_start(year, month, tz),
        end=month_start(year, month + 1, tz),
        key=f"{year:04d}-{month:02d}",
        as_of=as_of or timezone.now(),
    )


def parse_month(value: str) -> tuple[int, int]:
    """``"2025-06"`` -> (2025, 6); ValueError with a clear message otherwise."""
    text = value.strip()
    parts = text.split("-")
    if len(parts) != 2 or not all(ascii_digits(p) for p in parts) or len(parts[0]) != 4:
        raise ValueError(f"{value[:40]!r} is not a month like 2025-06")
    year, month = int(parts[0]), int(parts[1])
    if not 1 <= month <= 12 or not 1990 <= year <= 2999:
        raise ValueError(f"{value[:40]!r} is not a month like 2025-06")
    return year, month


def parse_fiscal_year(value: str | int) -> int:
    text = str(value).strip().upper().removeprefix("FY")
    if not ascii_digits(text) or not 1990 <= int(text) <= 2999:
        raise ValueError(f"{str(value)[:40]!r} is not a fiscal year like 2025")
    return int(text)


# --- business days ------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _closed_days(extra: tuple[str, ...]) -> frozenset[tuple[int, int]]:
    out = set()
    for item in extra:
        month, _, day = item.partition("-")
        out.add((int(month), int(day)))
    return frozenset(out)


@functools.lru_cache(maxsize=256)
def _holidays(year: int) -> frozenset[date]:
    return frozenset(d for d, _ in jpholiday.year_holidays(year))


def is_business_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in _closed_days(tuple(settings.STATS_CLOSED_DAYS)):
        return False
    return day not in _holidays(day.year)


def business_days_after(first: date, last: date) -> int:
    """Business days ``d`` with ``first < d <= last`` (0 when ``last <= first``)."""
    n = 0
    day = first + timedelta(days=1)
    while day <= last:
        n += is_business_day(day)
        day += timedelta(days=1)
    return n


def business_days_between(start: datetime, end: datetime) -> int:
    tz = local_tz()
    return business_days_after(
        timezone.localtime(start, tz).date(), timezone.localtime(end, tz).date()
    )


def closed_weekdays(first: date, last: date) -> list[date]:
    """Weekdays from ``first`` to ``last`` that are not business days (holidays, closed days)."""
    out = []
    day = first
    while day <= last:
        if day.weekday() < 5 and not is_business_day(day):
            out.append(day)
        day += timedelta(days=1)
    return out
