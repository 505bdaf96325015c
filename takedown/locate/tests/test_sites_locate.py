"""Locating sites end to end against the sandbox: timeline, directory, cache, overrides."""

from __future__ import annotations

import pytest
from django.db import transaction

from takedown.cases.models import Event, EventKind, Site, SiteState, Step, Work
from takedown.cases.services import sites_create_bulk
from takedown.intake.extract import normalise_url
from takedown.locate.engine import clear_caches
from takedown.locate.models import Location, Network, Organization, OrgRole, Resolution
from takedown.locate.services import organization_edit, sites_locate
from takedown.loop import run_pending
from takedown.sandbox.core import Sandbox

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def make_sites(*urls: str) -> list[Site]:
    rows = []
    for url in urls:
        t = normalise_url(url)
        rows.append({"url": t.url, "host": t.host, "registered_domain": t.registered_domain})
    by_url = sites_create_bulk(rows)
    return [by_url[normalise_url(u).url] for u in urls]


def first_checks() -> list[int]:
    """Sites whose first check the locate step made due (the monitor's business)."""
    return sorted(Work.objects.filter(step=Step.FIRST_CHECK).values_list("site_id", flat=True))


def test_it_locates_reported_sites_and_writes_the_timeline(sandbox_settings: Sandbox) -> None:
    s1, b02 = make_sites("http://login.bank-a.example/jp/", "http://bank-e-verify.example/secure/")
    summary = sites_locate([s1.pk, b02.pk])
    assert sorted(summary["located"]) == sorted([s1.pk, b02.pk])
    assert first_checks() == sorted(summary["located"])

    s1.refresh_from_db()
    assert s1.state == SiteState.LOCATED
    assert s1.ip == "127.1.0.10"
    assert s1.organization is not None and s1.organization.name == "Example Net A"
    assert s1.organization.kind == "isp" and s1.organization.language == "ja"
    assert s1.organization.name_local == "例示ネットワーク株式会社"

    event = Event.objects.get(site=s1, kind=EventKind.LOCATE_DONE)
    assert event.from_state == SiteState.REPORTED and event.to_state == SiteState.LOCATED
    assert event.organization == s1.organization
    assert event.data["abuse"] == ["abuse@net-a.example"]
    assert event.data["registrar"] == {
        "name": "Example Registrar, Inc.",
        "abuse": ["abuse@registrar.example"],
    }
    assert any(s.startswith("rdap:") for s in event.data["sources"])
    assert any(s.startswith("whois:") for s in event.data["sources"])

    res = Resolution.objects.get(site=s1)
    assert (res.host, res.outcome, res.addresses) == ("login.bank-a.example", "ok", ["127.1.0.10"])
    loc = Location.objects.filter(site=s1).latest()
    assert loc.organization == s1.organization and loc.registrar is not None
    assert loc.registrar.role == OrgRole.REGISTRAR
    assert loc.network is not None and loc.network.prefix == "127.1.0.0/16"

    b02.refresh_from_db()
    assert b02.organization is not None
    assert (b02.organization.name, b02.organization.kind) == ("Example Host F GmbH", "overseas")


def test_it_asks_the_registries_once_per_network(sandbox_settings: Sandbox) -> None:
    # Four sites on net-a, three on host-f: one RDAP network query each.
    before = dict(sandbox_settings.rdap_queries)
    sites = make_sites(
        "http://login.bank-a.example/jp/",
        "http://www.shop-c.example/account/",
        "http://bank-e-login.example/",
        "http://bank-e-pay.example/",
        "http://bank-e-verify.example/secure/",
        "http://bank-e-update.example/",
        "http://bank-e-id.example/",
    )
    sites_locate([s.pk for s in sites])
    after = sandbox_settings.rdap_queries
    assert after["apnic"] - before.get("apnic", 0) == 1
    assert after["ripe"] - before.get("ripe", 0) == 1
    assert Network.objects.count() == 2
    assert Organization.objects.filter(role=OrgRole.NETWORK).count() == 2

    # A new site on a known network: the database cache answers, no query.
    clear_caches()
    (more,) = make_sites("http://bank-e-reset.example/")
    sites_locate([more.pk])
    assert sandbox_settings.rdap_queries["ripe"] == after["ripe"]
    more.refresh_from_db()
    assert more.state == SiteState.LOCATED
    assert more.organization is not None and more.organization.name == "Example Host F GmbH"


def test_it_does_not_extend_a_cached_domain_record_by_using_it(sandbox_settings: Sandbox) -> None:
    from takedown.locate.models import DomainRecord

    (first,) = make_sites("http://login.bank-a.example/jp/")
    sites_locate([first.pk])
    record = DomainRecord.objects.get(domain=first.registered_domain)
    # Another site of the same domain, located from the database cache.
    clear_caches()
    (second,) = make_sites("http://login.bank-a.example/other/")
    sites_locate([second.pk])
    again = DomainRecord.objects.get(pk=record.pk)
    assert (again.fetched, again.expires) == (record.fetched, record.expires)
    second.refresh_from_db()
    assert second.state == SiteState.LOCATED


def test_a_handlers_edit_wins_over_the_registry_asked_again(sandbox_settings: Sandbox) -> None:
    (first,) = make_sites("http://bank-e-check.example/")  # univ-d
    sites_locate([first.pk])
    first.refresh_from_db()
    org = first.organization
    assert org is not None and org.kind == "school"
    event = organization_edit(
        org,
        actor="alice",
        changes={"kind": "other", "abuse_emails": ["CSIRT@univ-d.example"]},
        note="the university's CSIRT asked for its own address",
    )
    assert event is not None and event.kind == EventKind.ORGANIZATION_EDITED
    assert event.organization == org and event.actor == "alice"
    assert event.data["changes"]["kind"] == {"from": "school", "to": "other"}

    # Forget every cached answer, so the registries are really asked again.
    clear_caches()
    Network.objects.all().delete()
    before = sandbox_settings.rdap_queries["apnic"]
    (second,) = make_sites("http://bank-e-check.example/another/page")
    sites_locate([second.pk])
    assert sandbox_settings.rdap_queries["apnic"] == before + 1
    org.refresh_from_db()
    assert org.kind == "other"
    assert org.abuse_emails == ["csirt@univ-d.example"]
    assert org.registry_data["kind"] == "school"  # what the registry said, kept beside
    assert org.registry_data["abuse_emails"] == ["abuse@univ-d.example"]
    second.refresh_from_db()
    assert second.organization == org
    loc = Location.objects.filter(site=second).latest()
    assert loc.abuse == ["csirt@univ-d.example"]


def test_it_leaves_sites_past_locating_alone(sandbox_settings: Sandbox) -> None:
    (site,) = make_sites("http://login.bank-a.example/jp/")
    Site.objects.filter(pk=site.pk).update(state=SiteState.NOTIFIED)
    summary = sites_locate([site.pk, 999_999])
    assert summary["skipped"] == sorted([site.pk, 999_999])
    assert not Event.objects.filter(kind__startswith="locate.").exists()


def test_the_worker_locates_what_intake_reported(sandbox_settings: Sandbox) -> None:
    sites = make_sites("http://secure.card-b.example/login/", "http://bank-e-mypage.example/")
    # No message: the worker finds the locate step written with the sites.
    assert run_pending() >= 2
    for site in sites:
        site.refresh_from_db()
        assert site.state == SiteState.LOCATED
        assert site.organization is not None and site.organization.name == "Example Hosting B"


class _Rollback(Exception):
    pass


def test_it_gives_a_site_its_own_network_after_a_batch_rolled_back(
    sandbox_settings: Sandbox,
) -> None:
    """A locate batch that rolls back (a conflict at commit, a crash) must not
    leave the process's cached registry answers naming rows that never were.

    On SQLite the next rows stored take those ids, and the cached answers then
    led to them: a university's site located to another network's holder
    (issue 10, seed site b12 ending at Example Cloud E), or given another
    domain's registrar.
    """
    univ, other = make_sites("http://bank-e-check.example/", "http://verify.auction-c.example/")
    with pytest.raises(_Rollback), transaction.atomic():
        sites_locate([univ.pk])
        raise _Rollback
    sites_locate([other.pk])
    sites_locate([univ.pk])
    univ.refresh_from_db()
    other.refresh_from_db()
    assert univ.organization is not None and univ.organization.name == "Example University D"
    assert other.organization is not None and other.organization.name == "Example Net A"
    loc = Location.objects.filter(site=univ).latest()
    assert loc.network is not None and loc.network.prefix == "127.4.0.0/24"
    assert loc.network.organization == univ.organization
    assert loc.registrar is not None and loc.registrar.name == "Example Registrar, Inc."
    other_loc = Location.objects.filter(site=other).latest()
    assert other_loc.registrar is not None and other_loc.registrar.name == "Quiet Registrar Ltd."
