from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache

from takedown.stats import selectors
from takedown.stats.selectors import stats_get
from takedown.stats.tests.history import History, jst


@pytest.fixture
def fresh_cache(db, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    settings.STATS_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def test_it_recomputes_a_cheap_history_as_soon_as_an_event_arrives(fresh_cache, monkeypatch):
    monkeypatch.setattr(selectors, "CACHE_COST_FACTOR", 0)
    h = History()
    net = h.org("Net A")
    site = h.case(net, jst(2025, 6, 2, 10), None)
    assert stats_get(fy=2025).organizations[0].closed == 0
    h.down(site, jst(2025, 6, 2, 16))
    after = stats_get(fy=2025)
    assert after.organizations[0].closed == 1
    assert after.organizations[0].hours("avg") == pytest.approx(6)


def test_it_lets_a_costly_history_lag_a_little(fresh_cache, monkeypatch):
    monkeypatch.setattr(selectors, "CACHE_COST_FACTOR", 10_000)
    h = History()
    net = h.org("Net A")
    site = h.case(net, jst(2025, 6, 2, 10), None)
    assert stats_get(fy=2025).organizations[0].closed == 0
    h.down(site, jst(2025, 6, 2, 16))
    # Within STATS_CACHE_SECONDS of a computation that "cost" a lot: the old figures.
    assert stats_get(fy=2025).organizations[0].closed == 0
    assert stats_get(fy=2025, use_cache=False).organizations[0].closed == 1


def test_it_serves_the_cache_while_nothing_changes(fresh_cache, django_assert_max_num_queries):
    h = History()
    h.case(h.org("Net A"), jst(2025, 6, 2, 10), timedelta(hours=1))
    stats_get(fy=2025)
    # Only the version probe: the newest event, report and organisation ids.
    with django_assert_max_num_queries(3):
        cached = stats_get(fy=2025)
    assert cached.organizations[0].closed == 1


def test_it_can_bypass_the_cache(fresh_cache):
    h = History()
    h.case(h.org("Net A"), jst(2025, 6, 2, 10), timedelta(hours=1))
    assert stats_get(fy=2025, use_cache=False).organizations[0].sites == 1
