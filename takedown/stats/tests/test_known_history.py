"""A small known history across a fiscal-year boundary, Golden Week and a weekend.

Every figure below is worked out by hand from the timeline built in the
fixture; the comments give the arithmetic.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from takedown.cases.models import EventKind, Site
from takedown.cases.services import event_record
from takedown.stats.calendar import fiscal_year_period
from takedown.stats.selectors import period_all, stats_as_json, stats_compute
from takedown.stats.tests.history import History, jst

AS_OF = jst(2025, 9, 30, 12)


@pytest.fixture
def history(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.HOME_COUNTRY = "JP"
    settings.STATS_CLOSED_DAYS = []
    h = History()
    net = h.org("Net JP", kind="isp", country="JP")
    abroad = h.org("Host US", kind="isp", country="US")
    school = h.org("Uni JP", kind="school", country="JP")
    sites = {}
    # 1: noticed Monday 31 March 23:30, down Tuesday 1 April 00:30 (FY2024 -> FY2025):
    #    1 hour, 1 business day; nobody told.
    sites[1] = h.case(net, jst(2025, 3, 31, 23, 30), timedelta(hours=1))
    # 2: Friday 2 May 18:00 -> Wednesday 7 May 09:00 over Golden Week (3-6 May):
    #    111 hours, 1 business day; replied; the reporter told 30 minutes later.
    sites[2] = h.case(
        net,
        jst(2025, 5, 2, 18),
        timedelta(hours=111),
        told_after=timedelta(minutes=30),
        brand="Example Bank",
    )
    # 3: Friday 6 June 17:00 -> Saturday 11:00: 18 hours, 0 business days; only an
    #    auto-reply; the reporter told two days later.
    sites[3] = h.case(
        net,
        jst(2025, 6, 6, 17),
        timedelta(hours=18),
        replied=False,
        told_after=timedelta(days=2),
        brand="Example Bank",
        ip="198.51.100.7",
    )
    h.reply(3, jst(2025, 6, 6, 17, 1), net, human=False)  # notice 3 is site 3's
    # 4: Friday 13 June 16:00 -> Monday 16 June 10:00: 66 hours, 1 business day.
    sites[4] = h.case(
        net,
        jst(2025, 6, 13, 16),
        timedelta(hours=66),
        replied=False,
        brand='=HYPERLINK("http://evil.example")',
        ip="198.51.100.7",
    )
    Site.objects.filter(pk=sites[4].pk).update(recurrence_of=sites[3])
    event_record(
        kind=EventKind.SITE_RECURRENCE,
        site=sites[4],
        at=jst(2025, 6, 13, 16),
        data={"of": sites[3].pk, "by": "ip"},
    )
    # 5: overseas, noticed 1 July, still up at AS_OF.
    sites[5] = h.case(abroad, jst(2025, 7, 1, 10), None, replied=False)
    # 6: a school, already down when checked (never noticed).
    sites[6] = h.site(jst(2025, 7, 2, 10), school, ip="198.51.100.9")
    # Reports that are not located: 1 April 08:00 JST is still 31 March in UTC.
    h.report(jst(2025, 4, 1, 8), urls=1, kind="csirt", country="JP")
    h.report(jst(2025, 6, 20, 12), urls=2, kind="financial", country="US", reporter="Card SOC")
    h.report(jst(2025, 8, 1, 12), urls=1, kind="ecommerce", country="", reporter="Shop")
    return sites


def fy(year: int):
    return stats_compute(fiscal_year_period(year, as_of=AS_OF))


def test_it_counts_reports_per_local_month(history):
    data = stats_as_json(fy(2025))
    assert data["reports_by_month"] == {
        "2025-04": 1,  # the 08:00 JST report, 23:00 UTC on 31 March
        "2025-05": 1,
        "2025-06": 3,
        "2025-07": 2,
        "2025-08": 1,
        "2025-09": 0,
    }
    assert stats_as_json(fy(2024))["reports_by_month"]["2025-03"] == 1


def test_it_counts_reporters_by_type_and_side(history):
    data = stats_as_json(fy(2025))
    reporters = data["reporters"]["FY2025"]
    assert reporters["csirt"] == {"domestic": 6, "overseas": 0}
    assert reporters["financial"] == {"domestic": 0, "overseas": 1}
    # A reporter without a country is neither domestic nor overseas.
    assert reporters["ecommerce"] == {"domestic": 0, "overseas": 0, "unknown": 1}
    assert reporters["security_vendor"] == {"domestic": 0, "overseas": 0}
    assert stats_as_json(fy(2024))["reporters"]["FY2024"]["csirt"]["domestic"] == 1


def test_it_counts_administrators_by_type(history):
    data = stats_as_json(fy(2025))
    assert data["admins"]["FY2025"] == {
        "isp": 3,  # sites 2, 3, 4
        "company": 0,
        "school": 1,
        "overseas": 1,  # an ISP in the US counts as overseas
        "other": 0,
        "unknown": 4,  # the reports never located
    }
    assert stats_as_json(fy(2024))["admins"]["FY2024"]["isp"] == 1


def test_it_computes_closure_per_organisation(history):
    orgs = {o["org"]: o for o in stats_as_json(fy(2025))["organizations"]}
    net = orgs["Net JP"]
    # Sites 2, 3, 4 (site 1's first notice was in FY2024).
    assert net["sites"] == 3
    assert net["notices"] == 3
    assert net["replied"] == 1  # the auto-reply does not count
    assert net["replies"] == "sometimes"
    assert net["closure_rate"] == 1.0
    assert net["closure_hours"] == {"avg": 65.0, "min": 18.0, "max": 111.0}
    assert net["closure_business_days"] == {
        "avg": pytest.approx(0.67, abs=0.01),
        "min": 0,
        "max": 1,
    }
    assert net["sites_per_month"] == 0.5  # 3 sites over April-September
    us = orgs["Host US"]
    assert (us["sites"], us["closure_rate"], us["replies"], us["type"]) == (
        1,
        0.0,
        "no",
        "overseas",
    )
    assert us["closure_hours"] == {"avg": None, "min": None, "max": None}
    assert "Uni JP" not in orgs  # never noticed


def test_it_reads_fy2024_alone(history):
    orgs = {o["org"]: o for o in stats_as_json(fy(2024))["organizations"]}
    assert list(orgs) == ["Net JP"]
    assert orgs["Net JP"]["closure_hours"] == {"avg": 1.0, "min": 1.0, "max": 1.0}
    assert orgs["Net JP"]["closure_business_days"] == {"avg": 1.0, "min": 1, "max": 1}


def test_it_covers_all_time(history):
    stats = stats_compute(period_all(as_of=AS_OF))
    data = stats_as_json(stats)
    net = {o["org"]: o for o in data["organizations"]}["Net JP"]
    assert net["sites"] == 4
    assert net["closure_hours"]["avg"] == pytest.approx((1 + 111 + 18 + 66) / 4)
    assert set(data["reporters"]) == {"FY2024", "FY2025"}
    assert data["fiscal_years"]["FY2025"] == {
        "label": "FY2025 (to September)",
        "partial": True,
        "months": 6,
    }
    assert sum(data["reports_by_month"].values()) == 9


def test_it_draws_the_survival_curve(history):
    stats = fy(2025)
    s = stats.survival
    # Four sites noticed in FY2025; three went down after 18, 66 and 111 hours.
    assert (s.sites, s.closed) == (4, 3)
    assert s.share_up_at(12) == 1.0
    assert s.share_up_at(24) == pytest.approx(0.75)
    assert s.share_up_at(72) == pytest.approx(0.5)
    assert s.share_up_at(168) == pytest.approx(0.25)
    assert s.median_hours == pytest.approx(72, abs=0.1)
    assert set(stats.survival_by_type) == {"isp", "overseas"}
    assert stats.survival_by_type["overseas"].closed == 0
    assert set(stats.survival_by_country) == {"JP", "US"}


def test_it_lists_brands(history):
    stats = fy(2025)
    brands = dict(stats.brands)
    assert brands["Example Bank"] == 2
    assert brands[""] == 6  # sites 5, 6 and the four unlocated report sites
    assert stats.sites_total == 9


def test_it_finds_repeated_servers(history):
    rec = fy(2025).recurrence
    assert rec.events_by == {"ip": 1}
    assert rec.linked_sites == 1
    assert (rec.repeated_ips, rec.sites_on_repeated_ips) == (1, 2)
    assert [(r.where, r.sites, r.org) for r in rec.top_ips] == [("198.51.100.7", 2, "Net JP")]
    # The /24 also holds the school's site: 3 sites on 2 addresses.
    nets = {r.where: r for r in rec.top_networks}
    assert (nets["198.51.100.0/24"].sites, nets["198.51.100.0/24"].addresses) == (3, 2)


def test_it_measures_reporter_feedback(history):
    fb = fy(2025).feedback
    # Down in FY2025: sites 1 (00:30 on 1 April), 2, 3, 4; told: 2 (30 min), 3 (2 days).
    assert (fb.down, fb.told) == (4, 2)
    assert fb.seconds.low == pytest.approx(1800)
    assert fb.seconds.high == pytest.approx(2 * 86400)
