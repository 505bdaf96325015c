"""The SQL date arithmetic agrees with the Python calendar, in any time zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from takedown.stats import sql
from takedown.stats.calendar import business_days_between, month_key
from takedown.stats.selectors import period_all, stats_compute
from takedown.stats.tests.history import History

ZONES = ["Asia/Tokyo", "America/New_York", "Europe/Berlin"]


def random_moments(rnd: random.Random, n: int) -> list[datetime]:
    start = datetime(2024, 4, 1, tzinfo=UTC).timestamp()
    end = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    out = [datetime.fromtimestamp(rnd.uniform(start, end), UTC) for _ in range(n)]
    # And the awkward ones: around midnight, DST changes, New Year, Golden Week.
    for text in [
        "2025-03-09T06:59:59", "2025-03-09T07:00:00", "2025-03-30T00:59:00",
        "2025-11-02T05:30:00", "2025-12-31T14:59:59", "2025-12-31T15:00:00",
        "2025-05-02T14:59:00", "2025-05-06T15:00:00",
    ]:  # fmt: skip
        out.append(datetime.fromisoformat(text).replace(tzinfo=UTC))
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_it_counts_business_days_like_python(db, settings, zone):
    settings.TIME_ZONE = zone
    settings.STATS_CLOSED_DAYS = ["12-31"]
    rnd = random.Random(zone)
    h = History()
    expected = {}
    for i, t0 in enumerate(random_moments(rnd, 40)):
        delay = timedelta(seconds=rnd.choice([60, 3600 * 5, 86400, 86400 * 3, 86400 * 12]))
        delay += timedelta(seconds=rnd.randrange(0, 86400))
        org = h.org(f"org{i}")
        h.case(org, t0, delay, replied=False)
        expected[f"org{i}"] = (business_days_between(t0, t0 + delay), delay.total_seconds())
    stats = stats_compute(period_all(as_of=datetime(2027, 1, 1, tzinfo=UTC)))
    got = {o.name: o for o in stats.organizations}
    for name, (days, seconds) in expected.items():
        row = got[name]
        assert row.business_days.low == days, name
        assert row.seconds.low == pytest.approx(seconds, abs=0.01), name


@pytest.mark.parametrize("zone", ZONES)
def test_it_groups_local_months_like_python(db, settings, zone):
    settings.TIME_ZONE = zone
    moments = random_moments(random.Random(1), 30)
    column = sql.local_month("t")
    rows = " UNION ALL ".join(["SELECT %s AS t"] * len(moments))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM ({rows}) x",  # noqa: S608 - test of the SQL builders
            [sql.param_datetime(m) for m in moments],
        )
        got = [r[0] for r in cursor.fetchall()]
    assert got == [month_key(m) for m in moments]


def test_it_finds_the_transitions_of_a_zone():
    first, changes = sql._offsets("Europe/Berlin")
    assert first == 3600
    assert ("2025-03-30 01:00:00", 7200) in changes
    assert ("2025-10-26 01:00:00", 3600) in changes
    assert sql._offsets("Asia/Tokyo") == (32400, ())


@pytest.mark.parametrize("k", [0, 1, 5, 9, 10, 11, 19, 20, 21, 100])
def test_it_counts_values_below_with_a_case_tree(db, k):
    values = [1, 5, 6, 10, 11, 12, 15, 20, 40, 41, 99]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql.count_below(str(k), values)}", [])
        assert cursor.fetchone()[0] == sum(v <= k for v in values)


def test_it_refuses_to_inline_strange_names(settings):
    with pytest.raises(ValueError):
        sql.local_date("x; DROP TABLE y")
    with pytest.raises(ValueError):
        sql.json_text("data", "a'b")
    settings.TIME_ZONE = "Asia/Tokyo"
    assert ZoneInfo(sql.tz_name())
