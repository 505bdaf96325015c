"""The seed's closure table for organisations A-F, reproduced from a constructed history.

The seed (JPCERT/CC, FY2007 to September) gives, per organisation: replies?,
average / shortest / longest time to closure, sites per month, closure rate.
The history below is built to match it over FY2025 to September (six months),
through the real write paths, and the table is read back as the CLI and the
web pages render it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from takedown.stats.calendar import fiscal_year_period, is_business_day
from takedown.stats.selectors import stats_as_json, stats_compute
from takedown.stats.tables import organizations_table
from takedown.stats.tests.history import History, jst

SEED_ROWS = {
    "A": ["A", "yes", "6 hours", "20 min", "3 business days", "11", "100%"],
    "B": ["B", "yes", "2 business days", "1 business day", "7 business days", "4", "100%"],
    "C": ["C", "sometimes", "3 business days", "1 business day", "20 business days", "4", "100%"],
    "D": [
        "D",
        "almost never",
        "3 business days",
        "1 business day",
        "14 business days",
        "6",
        "100%",
    ],
    "E": ["E", "yes", "20 min", "-", "-", "-", "100%"],
    "F": ["F", "no", "7 hours", "-", "-", "-", "100%"],
}
AS_OF = jst(2025, 9, 30, 23)


def quiet_mondays() -> list[date]:
    """Mondays of April-September 2025 whose Monday to Thursday are all business days."""
    out = []
    day = date(2025, 4, 7)
    while day < date(2025, 9, 26):
        if all(is_business_day(day + timedelta(days=i)) for i in range(4)):
            out.append(day)
        day += timedelta(days=7)
    return out


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return jst(day.year, day.month, day.day, hour, minute)


def build_seed_history() -> None:
    h = History()
    mondays = quiet_mondays()
    orgs = {name: h.org(name) for name in "ABCDEF"}
    slot = iter(range(10_000))

    def case(org: str, start: datetime, down_after: timedelta, replied: bool) -> None:
        h.case(orgs[org], start, down_after, replied=replied)

    def spread(n: int) -> list[datetime]:
        # n notice times over the six months, on quiet Mondays, a few minutes apart.
        times = []
        for _ in range(n):
            i = next(slot)
            times.append(at(mondays[i % len(mondays)], 9, i % 50))
        return times

    # A: 66 sites (11 a month), all replied; 20 min, 3 business days, the rest 5 hours.
    a_times = spread(66)
    case("A", a_times[0], timedelta(minutes=20), True)
    case("A", a_times[1], timedelta(days=3), True)  # Monday -> Thursday
    for t in a_times[2:]:
        case("A", t, timedelta(hours=5), True)
    # B: 24 sites, all replied: 1, 7 and 22 x 2 business days.
    b_times = spread(22)
    case("B", jst(2025, 6, 2, 10), timedelta(days=1), True)
    case("B", jst(2025, 7, 7, 10), timedelta(days=9), True)  # 7 business days to 16 July
    for t in b_times:
        case("B", t, timedelta(days=2), True)
    # C: 24 sites, half replied: 1, 20 (over Mountain Day) and 22 x 2 business days.
    case("C", jst(2025, 6, 3, 10), timedelta(days=1), True)
    case("C", jst(2025, 8, 1, 10), timedelta(days=31), False)  # 1 August -> 1 September
    for i, t in enumerate(spread(22)):
        case("C", t, timedelta(days=2), i % 2 == 0)
    # D: 36 sites, 3 replied: 1, 14 (over Golden Week) and 34 x 3 business days.
    case("D", jst(2025, 6, 4, 10), timedelta(days=1), True)
    case("D", jst(2025, 4, 25, 10), timedelta(days=25), False)  # 25 April -> 20 May
    for i, t in enumerate(spread(34)):
        case("D", t, timedelta(days=3), i < 2)
    # E: one site, replied, 20 minutes; F: one site, no reply, 7 hours.
    case("E", jst(2025, 9, 8, 11), timedelta(minutes=20), True)
    case("F", jst(2025, 9, 9, 11), timedelta(hours=7), False)


@pytest.fixture
def seed_stats(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.STATS_CLOSED_DAYS = []
    build_seed_history()
    return stats_compute(fiscal_year_period(2025, as_of=AS_OF))


def test_it_reproduces_the_seed_table(seed_stats):
    table = organizations_table(seed_stats)
    rows = {row[0]: row for row in table.rows}
    assert rows == SEED_ROWS
    assert seed_stats.period.label() == "FY2025 (to September)"


def test_it_gives_the_seed_table_as_the_contract_json(seed_stats):
    orgs = {o["org"]: o for o in stats_as_json(seed_stats)["organizations"]}
    a = orgs["A"]
    assert a["replies"] == "yes"
    assert a["reply_rate"] == 1.0
    assert a["sites"] == 66
    assert a["notices"] == 66
    assert a["sites_per_month"] == 11.0
    assert a["closure_rate"] == 1.0
    assert a["closure_hours"]["min"] == pytest.approx(1 / 3, abs=0.01)
    assert a["closure_hours"]["max"] == 72.0
    assert a["closure_hours"]["avg"] == pytest.approx((20 / 60 + 72 + 64 * 5) / 66, abs=0.01)
    assert a["closure_business_days"] == {
        "avg": pytest.approx(3 / 66, abs=0.01),
        "min": 0,
        "max": 3,
    }
    assert orgs["B"]["closure_business_days"]["max"] == 7
    assert orgs["C"]["closure_business_days"]["max"] == 20
    assert orgs["C"]["reply_rate"] == pytest.approx(0.5)
    assert orgs["C"]["replies"] == "sometimes"
    assert orgs["D"]["closure_business_days"]["max"] == 14
    assert orgs["D"]["replies"] == "rarely"
    assert orgs["D"]["reply_rate"] == pytest.approx(3 / 36, abs=0.001)
    assert orgs["F"]["replies"] == "no"
    assert [o["org"] for o in stats_as_json(seed_stats)["organizations"]] == list("ADBCEF")
