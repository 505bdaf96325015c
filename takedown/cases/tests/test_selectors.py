"""Site search: what a handler pastes is understood; history stays apart."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from takedown.cases.models import Site, SiteState
from takedown.cases.selectors import (
    BadFilter,
    SiteFilter,
    site_counts_by_state,
    site_filter_parse,
    site_search,
    site_search_page,
)
from takedown.cases.services import site_transition, sites_create_bulk
from takedown.intake.services import ReporterInfo, report_receive
from takedown.locate.models import Location, Organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def sites() -> dict[str, Site]:
    org = Organization.objects.create(name="Example Net A", asn=64501, country="JP")
    rows = [
        (
            "a",
            "https://login.bank-a.example/jp/",
            "login.bank-a.example",
            "bank-a.example",
            "Bank A",
            "192.0.2.10",
        ),
        (
            "b",
            "http://shop.example.net/x",
            "shop.example.net",
            "example.net",
            "Shop",
            "192.0.2.200",
        ),
        ("c", "http://198.51.100.7/mal.exe", "198.51.100.7", "198.51.100.7", "", "198.51.100.7"),
    ]
    by_url = sites_create_bulk(
        [
            {
                "url": url,
                "host": host,
                "registered_domain": rd,
                "brand": brand,
                "first_reported": datetime(2025, 5, i + 1, tzinfo=UTC),
            }
            for i, (_k, url, host, rd, brand, _ip) in enumerate(rows)
        ]
    )
    out = {}
    for key, url, _h, _r, _b, ip in rows:
        site = by_url[url]
        site.ip = ip
        site.organization = org if key != "c" else None
        site_transition(site, SiteState.LOCATED, update_fields=["ip", "organization"])
        out[key] = site
    Location.objects.create(site=out["a"], outcome="located", host="x", ip="192.0.2.10", asn=64501)
    sites_create_bulk(
        [{"url": "http://old.example/", "host": "old.example", "registered_domain": "old.example"}],
        historical=True,
    )
    return out


def find(**params: str) -> set[str]:
    return {s.host for s in site_search(filters=site_filter_parse(params))}


def test_it_finds_a_defanged_url_pasted_from_the_ui(sites: dict[str, Site]) -> None:
    assert find(q="hxxps://login[.]bank-a[.]example/jp/") == {"login.bank-a.example"}


def test_it_finds_a_url_wrapped_by_safe_links(sites: dict[str, Site]) -> None:
    wrapped = (
        "https://nam02.safelinks.protection.outlook.com/?url="
        "https%3A%2F%2Flogin.bank-a.example%2Fjp%2F&data=x"
    )
    assert find(q=wrapped) == {"login.bank-a.example"}


def test_it_finds_by_ip_prefix_and_asn(sites: dict[str, Site]) -> None:
    assert find(q="192.0.2.10") == {"login.bank-a.example"}
    assert find(q="192.0.2.0/24") == {"login.bank-a.example", "shop.example.net"}
    assert find(q="192.0.2.128/25") == {"shop.example.net"}
    assert find(q="AS64501") == {"login.bank-a.example", "shop.example.net"}


def test_it_finds_by_host_domain_brand_and_organisation(sites: dict[str, Site]) -> None:
    assert find(q="bank-a[.]example") == {"login.bank-a.example"}
    assert find(domain="example.net") == {"shop.example.net"}
    assert find(q="Shop") == {"shop.example.net"}
    assert find(org="Example Net") == {"login.bank-a.example", "shop.example.net"}


def test_it_finds_by_reporter_state_and_dates(sites: dict[str, Site]) -> None:
    report_receive(
        channel="api",
        urls=["http://198.51.100.7/mal.exe"],
        reporter=ReporterInfo(name="Vendor X", email="x@vendor.example"),
    )
    assert find(reporter="Vendor X") == {"198.51.100.7"}
    assert find(state="located", to="2025-05-02") == {"login.bank-a.example", "shop.example.net"}
    assert find(**{"from": "2025-05-03"}) == {"198.51.100.7"}


def test_it_keeps_imported_history_apart_unless_asked(sites: dict[str, Site]) -> None:
    assert "old.example" not in find()
    assert "old.example" in find(historical="1")
    assert site_counts_by_state()[SiteState.REPORTED] == 0
    assert site_counts_by_state(include_historical=True)[SiteState.REPORTED] == 1


def test_it_pages_with_a_total(sites: dict[str, Site]) -> None:
    page = site_search_page(filters=SiteFilter(), page=2, per_page=2)
    assert (page.total, page.pages, page.page, len(page.sites)) == (3, 2, 2, 1)
    assert site_search_page(filters=SiteFilter(), page=99, per_page=2).page == 2


@pytest.mark.parametrize(
    "params",
    [
        {"state": "bogus"},
        {"ip": "300.1.1.1"},
        {"from": "yesterday"},
        {"asn": "-5"},
        {"q": "a\x00b"},
    ],
)
def test_it_refuses_parameters_that_mean_nothing(params: dict[str, str]) -> None:
    with pytest.raises(BadFilter):
        site_filter_parse(params)


def test_it_round_trips_a_filter_through_its_parameters() -> None:
    flt = site_filter_parse({"state": "notified,down", "from": "2025-04-01", "historical": "1"})
    assert flt.states == ("notified", "down")
    assert flt.reported_from == date(2025, 4, 1)
    assert site_filter_parse(flt.as_params()) == flt
