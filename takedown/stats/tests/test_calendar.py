from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import jpholiday
import pytest
from django.utils import translation

from takedown.stats.calendar import (
    business_days_after,
    business_days_between,
    fiscal_year_of,
    fiscal_year_period,
    is_business_day,
    month_key,
    month_period,
    parse_fiscal_year,
    parse_month,
)
from takedown.stats.tests.history import jst


@pytest.fixture(autouse=True)
def _tokyo(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.STATS_CLOSED_DAYS = []


def test_it_puts_april_first_in_the_new_fiscal_year():
    assert fiscal_year_of(date(2025, 3, 31)) == 2024
    assert fiscal_year_of(date(2025, 4, 1)) == 2025
    assert fiscal_year_of(date(2026, 1, 15)) == 2025


def test_it_starts_a_fiscal_year_at_local_midnight():
    fy = fiscal_year_period(2025, as_of=jst(2027, 1, 1))
    assert fy.start == jst(2025, 4, 1)
    assert fy.end == jst(2026, 4, 1)
    # 2025-04-01 00:00 in Tokyo is still 31 March in UTC.
    assert fy.start == datetime(2025, 3, 31, 15, 0, tzinfo=UTC)
    assert month_key(datetime(2025, 3, 31, 14, 59, tzinfo=UTC)) == "2025-03"
    assert month_key(datetime(2025, 3, 31, 15, 0, tzinfo=UTC)) == "2025-04"
    assert not fy.partial
    assert fy.months == 12
    assert fy.label() == "FY2025"


def test_it_marks_a_running_fiscal_year_as_partial():
    fy = fiscal_year_period(2025, as_of=jst(2025, 9, 15, 12))
    assert fy.partial
    assert fy.months == 6
    assert fy.label() == "FY2025 (to September)"
    with translation.override("ja"):
        label = fy.label()
    assert "2025" in label and "9" in label


def test_it_labels_a_month():
    assert month_period(2025, 6, as_of=jst(2026, 1, 1)).label() == "June 2025"
    assert month_period(2025, 6, as_of=jst(2026, 1, 1)).months == 1


def test_it_counts_business_days_over_golden_week():
    # Friday 25 April 2025 -> Tuesday 20 May: 29 April and 3-6 May are holidays.
    assert business_days_after(date(2025, 4, 25), date(2025, 5, 20)) == 14
    assert business_days_after(date(2025, 5, 2), date(2025, 5, 7)) == 1


def test_it_counts_a_weekend_as_no_business_day():
    assert business_days_after(date(2025, 6, 6), date(2025, 6, 7)) == 0  # Fri -> Sat
    assert business_days_after(date(2025, 6, 6), date(2025, 6, 9)) == 1  # Fri -> Mon
    assert business_days_after(date(2025, 6, 9), date(2025, 6, 9)) == 0  # same day
    assert business_days_after(date(2025, 6, 10), date(2025, 6, 9)) == 0  # backwards


def test_it_counts_business_days_in_local_time():
    # 23:30 and 00:30 JST are the same UTC date, but two Tokyo days.
    assert business_days_between(jst(2025, 3, 31, 23, 30), jst(2025, 4, 1, 0, 30)) == 1


def test_it_agrees_with_jpholiday_for_years():
    day = date(2019, 1, 1)
    while day < date(2027, 1, 1):
        assert is_business_day(day) == (day.weekday() < 5 and not jpholiday.is_holiday(day))
        day += timedelta(days=1)


def test_it_honours_extra_closed_days(settings):
    settings.STATS_CLOSED_DAYS = ["12-29", "12-30", "12-31", "01-02", "01-03"]
    # Friday 26 December 2025 -> Monday 5 January 2026: only the 5th is open.
    assert business_days_after(date(2025, 12, 26), date(2026, 1, 5)) == 1
    settings.STATS_CLOSED_DAYS = []
    assert business_days_after(date(2025, 12, 26), date(2026, 1, 5)) == 5


@pytest.mark.parametrize(
    "value", ["2025-13", "25-06", "2025/06", "June", "", "2025-06-01", "0999-01", "²⁰²⁵-06"]
)
def test_it_rejects_bad_months(value):
    with pytest.raises(ValueError, match="not a month"):
        parse_month(value)


@pytest.mark.parametrize("value", ["FY2025", "2025", " fy2025 "])
def test_it_parses_fiscal_years(value):
    assert parse_fiscal_year(value) == 2025


@pytest.mark.parametrize("value", ["abc", "20250", "FY", "-1", "1800", "2025.5", "FY²⁰²⁵"])
def test_it_rejects_bad_fiscal_years(value):
    with pytest.raises(ValueError, match="not a fiscal year"):
        parse_fiscal_year(value)
