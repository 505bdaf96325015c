from __future__ import annotations

import pytest

from takedown.stats.selectors import SURVIVAL_HOURS, replies_label, survival_from_buckets


def buckets(**at_hours: int) -> list[int]:
    """Counts per bucket, named by the bucket's upper bound: h6 is [4 hours, 6 hours)."""
    out = [0] * (len(SURVIVAL_HOURS) + 1)
    for key, n in at_hours.items():
        out[SURVIVAL_HOURS.index(float(key.removeprefix("h").replace("_", ".")))] += n
    return out


def test_it_halves_when_half_the_sites_go_down():
    s = survival_from_buckets("x", closed=buckets(h6=1, h24=1), censored=buckets())
    assert s.sites == 2 and s.closed == 2
    assert s.share_up_at(4) == 1.0
    assert s.share_up_at(6) == pytest.approx(0.5)
    assert s.share_up_at(24) == 0.0
    assert s.median_hours == 6


def test_it_counts_a_site_still_up_as_at_risk_for_half_its_interval():
    s = survival_from_buckets("x", closed=buckets(h12=1), censored=buckets(h12=1, h720=1))
    # In [8, 12): 3 at risk, one still-up site leaves half-way: 1 / 2.5 go down.
    assert s.share_up_at(12) == pytest.approx(1 - 1 / 2.5)
    assert s.share_up_at(2160) == pytest.approx(0.6)
    assert s.median_hours is None


def test_it_interpolates_the_median():
    s = survival_from_buckets("x", closed=buckets(h1=1, h2=1, h3=1, h4=1), censored=buckets())
    # 75% up at 1 hour, 25% at 3 hours: half at 2 hours.
    assert s.median_hours == pytest.approx(2)


def test_it_draws_nothing_for_no_sites():
    s = survival_from_buckets("x", closed=buckets(), censored=buckets())
    assert s.sites == 0
    assert all(v == 1.0 for _, v in s.points)


@pytest.mark.parametrize(
    "rate, label",
    [(None, "no"), (0.0, "no"), (0.01, "rarely"), (0.29, "rarely"), (0.3, "sometimes"),
     (0.79, "sometimes"), (0.8, "yes"), (1.0, "yes")],
)  # fmt: skip
def test_it_names_reply_rates_as_the_contract_does(rate, label):
    assert replies_label(rate) == label
