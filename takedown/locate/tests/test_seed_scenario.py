"""`takedown locate` against the sandbox's seed scenario: every site's holder, its
type and its abuse address, as scenarios/seed-cases.yaml defines them.

The scenario has RDAP-only registries (ARIN with linked-only POCs, RIPE, APNIC
with IRTs, AFRINIC with a remark), WHOIS-only ones (LACNIC, a JPNIC block with
no RDAP) and JPNIC-style blocks whose APNIC record points at JPNIC's IRT while the
holder's address is only in JPNIC's ISO-2022-JP WHOIS.
"""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from takedown.sandbox.core import Sandbox

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def locate(url: str) -> dict[str, Any]:
    out = StringIO()
    call_command("locate", url, "--json", stdout=out)
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def test_it_locates_every_seed_site_as_the_scenario_defines(sandbox_settings: Sandbox) -> None:
    scenario = sandbox_settings.scenario
    checked = set()
    for site in scenario.sites:
        org = scenario.org_for_site(site)
        data = locate(site.url)
        assert data["outcome"] == "located", (site.id, data["reason"])
        assert data["ips"] == [site.ip], site.id
        assert data["org"]["name"] == org.name, site.id
        assert data["org"]["kind"] == org.kind, site.id
        assert data["org"]["country"] == org.country, site.id
        assert data["org"]["domestic"] is (org.country == "JP"), site.id
        assert data["abuse"] == [org.abuse_email], site.id
        registrar = scenario.registrar(site.registrar)
        assert data["registrar"] == {"name": registrar.name, "abuse": [registrar.abuse_email]}
        checked.add((org.registry, org.rdap))
    # RDAP-only, WHOIS-only and JPNIC-style organisations were all among them.
    assert {("jpnic", True), ("jpnic", False), ("lacnic", False), ("arin", True)} <= checked


def test_it_names_its_sources(sandbox_settings: Sandbox) -> None:
    jpnic = locate("http://login.bank-a.example/jp/")  # net-a: APNIC RDAP + JPNIC WHOIS
    assert jpnic["registry"] == "jpnic"
    assert any(s.startswith("rdap:") and "/apnic/ip/127.1.0.10" in s for s in jpnic["sources"])
    assert any(s.startswith("whois:127.0.0.1:") for s in jpnic["sources"])
    whois_only = locate("http://bank-e-account.example/")  # net-g: LACNIC, no RDAP
    assert whois_only["registry"] == "lacnic"
    assert [s for s in whois_only["sources"] if s.startswith("whois:")]
    assert any("HTTP 404" in e for e in whois_only["errors"])
    arin = locate("http://update.dl-e.example/files/invoice.exe")  # POCs only linked
    assert any("/arin/entity/" in s for s in arin["sources"])


def test_it_keeps_the_contract_keys_first(sandbox_settings: Sandbox) -> None:
    data = locate("hxxp://login.bank-a[.]example/jp/")
    assert list(data)[:10] == [
        "url", "host", "ips", "asn", "prefix", "registry", "org", "abuse", "registrar", "sources",
    ]  # fmt: skip
    assert data["url"] == "http://login.bank-a.example/jp/"
    assert data["prefix"] == "127.1.0.0/16"
    assert set(data["org"]) >= {"name", "kind", "country", "domestic"}
