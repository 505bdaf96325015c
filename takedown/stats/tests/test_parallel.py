"""The query families run side by side on their own connections when the data is committed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from takedown.stats import selectors
from takedown.stats.selectors import period_all, stats_as_json, stats_compute
from takedown.stats.tests.history import History, jst


@pytest.mark.django_db(transaction=True)
def test_it_gives_the_same_figures_on_parallel_connections(settings, monkeypatch):
    settings.TIME_ZONE = "Asia/Tokyo"
    h = History()
    net = h.org("Net A")
    abroad = h.org("Host B", country="US")
    h.case(
        net, jst(2025, 6, 2, 10), timedelta(hours=5), brand="Bank", told_after=timedelta(hours=1)
    )
    h.case(net, jst(2025, 6, 3, 10), timedelta(days=2), replied=False, ip="198.51.100.1")
    h.case(abroad, jst(2025, 7, 1, 10), None, ip="198.51.100.1")
    threads: set[str] = set()
    original = selectors._brands

    def spy(period):
        threads.add(threading.current_thread().name)
        return original(period)

    monkeypatch.setattr(selectors, "_brands", spy)
    period = period_all(as_of=jst(2025, 9, 1))

    settings.STATS_WORKERS = 1
    one = stats_as_json(stats_compute(period))
    assert threads == {threading.current_thread().name}
    threads.clear()
    settings.STATS_WORKERS = 4
    four = stats_as_json(stats_compute(period))
    assert all(name.startswith("stats") for name in threads)
    assert one == four
    assert four["organizations"][0]["sites"] == 2
    assert four["recurrence"]["repeated_ips"] == 1
