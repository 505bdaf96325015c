"""A bulk report: 1,000 URLs on 30 networks cost about 30 registry queries, not 1,000."""

from __future__ import annotations

from typing import Any

import pytest

from takedown.intake.extract import normalise_url
from takedown.locate.services import locate_hosts
from takedown.locate.tests.worlds import REGISTRY_STYLES, bulk_scenario
from takedown.sandbox.scenario import scenario_from_dict
from takedown.sandbox.testing import django_settings

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def test_it_asks_once_per_network(sandbox_factory: Any, settings: Any) -> None:
    scenario = scenario_from_dict(bulk_scenario(30, 1000))
    sb = sandbox_factory(scenario)
    for name, value in django_settings(sb).items():
        setattr(settings, name, value)
    # The sandbox's registries share this process with the locator: on a busy
    # machine an answer can take seconds.  This test counts queries, so a
    # timeout (a lookup not located, and asked again) must not decide it.
    settings.REGISTRY_TIMEOUT = settings.DNS_TIMEOUT = 60
    settings.REGISTRY_MAX_WAIT = 300
    hosts = {}
    for site in scenario.sites:
        t = normalise_url(site.url)
        hosts[t.host] = t.registered_domain
    assert len(hosts) == 1000

    run = locate_hosts(hosts)

    located = [r for r in run.results.values() if r.outcome == "located"]
    assert len(located) == 1000
    for site in scenario.sites[:60]:
        org = scenario.org_for_site(site)
        res = run.results[normalise_url(site.url).host]
        assert res.network is not None
        assert (res.network.org_name, res.kind) == (org.name, org.kind)
        assert res.abuse == [org.abuse_email]
    q = run.queries
    per_style = {
        s: sum(1 for j in range(30) if REGISTRY_STYLES[j % 7] == s) for s in REGISTRY_STYLES
    }
    whois_only = sum(n for (reg, rdap, _k, _c), n in per_style.items() if not rdap)
    arin = sum(n for (reg, _r, _k, _c), n in per_style.items() if reg == "arin")
    jpnic = sum(n for (reg, _r, _k, _c), n in per_style.items() if reg == "jpnic")
    assert q["rdap-ip"] == 30  # one per network (the WHOIS-only ones answer 404)
    assert q["whois-ip"] == whois_only
    assert q["whois-referral"] == whois_only  # IANA, once per network it refers
    assert q["rdap-entity"] == arin  # ARIN links its POCs
    assert q["whois-nir"] == jpnic  # JPNIC holds the holder's abuse address
    assert q["rdap-domain"] == 30 and q["rdap-registrar"] == 30  # one domain per network
    assert run.locator.cache_hits == 1000 - 30
