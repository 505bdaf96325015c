"""Abuse contacts from every real RDAP response in ../shared/data/rdap/.

The expected addresses below were read from each file by hand (which entity
has the ``abuse`` role, which remark names an abuse address, which entity is an
IRT), not produced by the parser.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from takedown.lib.testdata import require_shared
from takedown.locate.rdap import parse_rdap

# ipwhois/rdap.json, keyed by the IP queried: (abuse, org, country, prefix)
IPWHOIS = {
    # RIPE: an abuse role entity (BTCR3-RIPE) with three addresses
    "2a00:2381:ffff::1": (
        ["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"],
        "BT-WORLD-IPVSIX-LAUNCH",
        "GB",
        "2a00:2381:ffff::/64",
    ),
    # APNIC, a JPNIC block: only JPNIC's admin/tech role, no abuse contact
    "2001:240:10c:1::ca20:9d1d": ([], "Japan Network Information Center", "JP", "2001:240::/32"),
    # AFRINIC: entities without roles, no abuse remark
    "2001:43f8:7b0::": ([], "ORG-TA38-AFRINIC", "KE", "2001:43f8:7b0::/48"),
    "62.239.237.1": (
        ["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"],
        "BT-CORPORATE",
        "GB",
        "62.239.237.0/24",
    ),
    # LACNIC: RYT2 holds the abuse role; upper-case domain lower-cased
    "200.57.141.161": (
        ["operacion.redes@triara.com"],
        "Triara.com, S.A. de C.V.",
        "MX",
        "200.57.141.161/32",
    ),
    # ARIN: ZG39-ARIN has the abuse role
    "2001:4860:4860::8888": (["arin-contact@google.com"], "Google Inc.", "US", "2001:4860::/32"),
    # APNIC/KRNIC: the abuse remark on DB50-AP, then the IRT
    "210.107.73.73": (
        ["abuse@bora.net", "hostmaster@nic.or.kr"],
        "DACOM Corp.",
        "KR",
        "210.107.0.0/17",
    ),
    "2801:10:c000::": (
        ["sistemas.red@uco.edu.co"],
        "Universidad Catolica de Oriente",
        "CO",
        "2801:10:c000::/128",
    ),
    "74.125.225.229": (["arin-contact@google.com"], "Google Inc.", "US", "74.125.0.0/16"),
    # AFRINIC: no abuse role; the network's remark names the address
    "196.11.240.215": (
        ["abuse@mtnbusiness.co.za"],
        "ORG-VSA1-AFRINIC",
        "ZA",
        "196.11.239.0 - 196.11.246.255",
    ),
}

# whoisit/*.json: abuse addresses, most specific first
WHOISIT = {
    "data_rdap_response_asn.json": ["abuse@cloudflare.com"],
    # the network's own remark (Cloudflare) before APNIC's IRT
    "data_rdap_response_cidr_v4.json": ["resolver-abuse@cloudflare.com", "helpdesk@apnic.net"],
    # the network's abuse POC, then the holder organisation's
    "data_rdap_response_cidr_v6.json": ["arin-contact@google.com", "network-abuse@google.com"],
    "data_rdap_response_domain1.json": ["abusecomplaints@markmonitor.com"],
    # .no: a technical contact and the registrar, no abuse contact
    "data_rdap_response_domain2.json": [],
    "data_rdap_response_domain3.json": ["abuse@registrar.eu"],
    "data_rdap_response_entity.json": ["support@govital.net"],
    "data_rdap_response_ip_v4.json": ["resolver-abuse@cloudflare.com", "helpdesk@apnic.net"],
    "data_rdap_response_ip_v4_2.json": ["abuse@switch.ch"],
    "data_rdap_response_ip_v4_3.json": ["abuse@microsoft.com"],
    "data_rdap_response_ip_v6.json": ["arin-contact@google.com", "network-abuse@google.com"],
}

# whoisit/recorded/*.yaml: the registry answers inside the recorded exchanges
RECORDED = {
    "https://rdap.verisign.com/com/v1/domain/google.com": ["abusecomplaints@markmonitor.com"],
    "https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM": ["abusecomplaints@markmonitor.com"],
    "https://rdap.arin.net/registry/autnum/13335": ["abuse@cloudflare.com"],
    "https://rdap.arin.net/registry/entity/GOVI": ["support@govital.net"],
    "https://rdap.apnic.net/ip/1.1.1.1": ["resolver-abuse@cloudflare.com", "helpdesk@apnic.net"],
    "https://rdap.apnic.net/ip/1.1.1.0/24": [
        "resolver-abuse@cloudflare.com",
        "helpdesk@apnic.net",
    ],
    "https://rdap.arin.net/registry/ip/2606:4700:4700::1111": ["abuse@cloudflare.com"],
    "https://rdap.arin.net/registry/ip/2606:4700::/32": ["abuse@cloudflare.com"],
}


def _ipwhois() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(require_shared("data/rdap/ipwhois/rdap.json").read_text())
    return data


def test_it_covers_every_ipwhois_response() -> None:
    assert set(_ipwhois()) == set(IPWHOIS)


@pytest.mark.parametrize("ip", sorted(IPWHOIS))
def test_it_reads_ipwhois_rdap(ip: str) -> None:
    abuse, org, country, prefix = IPWHOIS[ip]
    out = parse_rdap(_ipwhois()[ip]["response"]).contract()
    assert out["abuse"] == abuse
    assert out["org"] == org
    assert out["country"] == country
    assert out["prefix"] == prefix


def test_it_reads_the_ipwhois_entity_response() -> None:
    # A bare POC object: its own address is a contact, not an abuse role.
    data = json.loads(require_shared("data/rdap/ipwhois/entity.json").read_text())
    rec = parse_rdap(data)
    assert rec.abuse == []
    assert rec.org == "Google Inc"
    assert rec.handle == "ZG39-ARIN"


def test_it_covers_every_whoisit_response() -> None:
    folder = require_shared("data/rdap/whoisit")
    assert {p.name for p in folder.glob("data_rdap_response_*.json")} == set(WHOISIT)


@pytest.mark.parametrize("name", sorted(WHOISIT))
def test_it_reads_whoisit_rdap(name: str) -> None:
    data = json.loads(require_shared("data/rdap/whoisit", name).read_text())
    assert parse_rdap(data).contract()["abuse"] == WHOISIT[name]


def _recorded() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(require_shared("data/rdap/whoisit/recorded").glob("*.yaml")):
        for item in yaml.safe_load(path.read_text())["responses"]:
            resp = item["response"]
            if "data.iana.org" not in resp["url"]:
                out[resp["url"]] = json.loads(resp["body"])
    return out


def test_it_covers_every_recorded_registry_answer() -> None:
    assert set(_recorded()) == set(RECORDED)


@pytest.mark.parametrize("url", sorted(RECORDED))
def test_it_reads_recorded_rdap(url: str) -> None:
    assert parse_rdap(_recorded()[url]).abuse == RECORDED[url]


def test_it_finds_the_registrar_and_its_referral_in_a_registry_answer() -> None:
    rec = parse_rdap(_recorded()["https://rdap.verisign.com/com/v1/domain/google.com"])
    assert rec.registrar == {
        "name": "MarkMonitor Inc.",
        "abuse": ["abusecomplaints@markmonitor.com"],
        "iana_id": "292",
        "handle": "292",
    }
    assert rec.related == ["https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM"]
    assert rec.nameservers == [
        "ns1.google.com",
        "ns2.google.com",
        "ns3.google.com",
        "ns4.google.com",
    ]


def test_it_takes_the_holder_from_the_registrar_answer_vcard_org() -> None:
    rec = parse_rdap(_recorded()["https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM"])
    assert rec.org == "Google LLC"
    assert rec.registrar is not None and rec.registrar["name"] == "MarkMonitor Inc."


def test_it_knows_a_jpnic_block_and_where_to_ask() -> None:
    rec = parse_rdap(_ipwhois()["2001:240:10c:1::ca20:9d1d"]["response"])
    assert rec.nir == "jpnic"
    assert rec.nir_server == "whois.nic.ad.jp"
    assert rec.up == "http://rdap.apnic.net/ip/2001:200::/23"


def test_it_keeps_other_contacts_apart_from_abuse() -> None:
    rec = parse_rdap(_recorded()["https://rdap.arin.net/registry/autnum/13335"])
    assert rec.asn == 13335
    assert rec.org == "Cloudflare, Inc."
    assert set(rec.contacts) == {"noc@cloudflare.com", "rir@cloudflare.com"}


def test_it_reads_the_country_from_the_holder_vcard_when_the_network_has_none() -> None:
    # ARIN networks carry no country; GOVI's address label ends with "Canada".
    data = json.loads(
        require_shared("data/rdap/whoisit/data_rdap_response_entity.json").read_text()
    )
    assert parse_rdap(data).country == "CA"
