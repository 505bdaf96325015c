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

# ipwhois/rdap.json, keyed by the IP queried: (abuse, org, country, prefix, why).
# ``abuse[0]`` is the right first address; "why" says how it was read.
IPWHOIS = {
    "2a00:2381:ffff::1": (
        ["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"],
        "BT-WORLD-IPVSIX-LAUNCH",
        "GB",
        "2a00:2381:ffff::/64",
        "RIPE: BTCR3-RIPE is the abuse role entity; its three e-mails in order",
    ),
    "2001:240:10c:1::ca20:9d1d": (
        [],
        "Japan Network Information Center",
        "JP",
        "2001:240::/32",
        "APNIC's JPNIC allocation: only JPNIC's own role (hostmaster@nic.ad.jp); ask JPNIC",
    ),
    "2001:43f8:7b0::": (
        [],
        "ORG-TA38-AFRINIC",
        "KE",
        "2001:43f8:7b0::/48",
        "AFRINIC: entities without roles and no abuse remark",
    ),
    "62.239.237.1": (
        ["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"],
        "BT-CORPORATE",
        "GB",
        "62.239.237.0/24",
        "RIPE: BTCR3-RIPE is the abuse role entity",
    ),
    "200.57.141.161": (
        ["operacion.redes@triara.com"],
        "Triara.com, S.A. de C.V.",
        "MX",
        "200.57.141.161/32",
        "LACNIC: RYT2 has the abuse role; the upper-case domain lower-cased",
    ),
    "2001:4860:4860::8888": (
        ["arin-contact@google.com"],
        "Google Inc.",
        "US",
        "2001:4860::/32",
        "ARIN: ZG39-ARIN has the abuse role",
    ),
    "210.107.73.73": (
        ["abuse@bora.net"],
        "DACOM Corp.",
        "KR",
        "210.107.0.0/17",
        "APNIC, a KRNIC block: the abuse role is KRNIC's IRT (hostmaster@nic.or.kr), "
        "set aside; DACOM's own abuse@ remains; ask KRNIC",
    ),
    "2801:10:c000::": (
        ["sistemas.red@uco.edu.co"],
        "Universidad Catolica de Oriente",
        "CO",
        "2801:10:c000::/128",
        "LACNIC: JDM7 has the abuse role",
    ),
    "74.125.225.229": (
        ["arin-contact@google.com"],
        "Google Inc.",
        "US",
        "74.125.0.0/16",
        "ARIN: ZG39-ARIN, nested in the registrant, has the abuse role",
    ),
    "196.11.240.215": (
        ["abuse@mtnbusiness.co.za"],
        "ORG-VSA1-AFRINIC",
        "ZA",
        "196.11.239.0 - 196.11.246.255",
        "AFRINIC: no abuse role; the network's remark names the address",
    ),
}
# Blocks delegated to a national registry: (nir, server to ask, the NIR's own addresses)
IPWHOIS_NIR = {
    "2001:240:10c:1::ca20:9d1d": ("jpnic", "whois.nic.ad.jp", ["hostmaster@nic.ad.jp"]),
    # No server in the answer: KRNIC's current one.
    "210.107.73.73": ("krnic", "whois.kisa.or.kr", ["hostmaster@nic.or.kr"]),
}

# whoisit/*.json: abuse addresses, most specific first
WHOISIT = {
    "data_rdap_response_asn.json": ["abuse@cloudflare.com"],
    # The abuse role entity is APNIC R&D's IRT (APNIC holds the block, with
    # Cloudflare): first; the remark's Cloudflare address after it.
    "data_rdap_response_cidr_v4.json": ["helpdesk@apnic.net", "resolver-abuse@cloudflare.com"],
    # Two abuse roles: the network's own POC (depth 1) before the holder's (depth 2).
    "data_rdap_response_cidr_v6.json": ["arin-contact@google.com", "network-abuse@google.com"],
    # ICANN profile: the registrar's abuse entity nested in the registrar entity.
    "data_rdap_response_domain1.json": ["abusecomplaints@markmonitor.com"],
    # .no: a technical contact and the registrar, no abuse contact
    "data_rdap_response_domain2.json": [],
    "data_rdap_response_domain3.json": ["abuse@registrar.eu"],
    "data_rdap_response_entity.json": ["support@govital.net"],
    "data_rdap_response_ip_v4.json": ["helpdesk@apnic.net", "resolver-abuse@cloudflare.com"],
    # RIPE: the abuse-c role's e-mail typed "abuse" (given twice).
    "data_rdap_response_ip_v4_2.json": ["abuse@switch.ch"],
    # MAC74-ARIN, the abuse role nested in the registrant; the remarks say the same.
    "data_rdap_response_ip_v4_3.json": ["abuse@microsoft.com"],
    "data_rdap_response_ip_v6.json": ["arin-contact@google.com", "network-abuse@google.com"],
}

# whoisit/recorded/*.yaml: the registry answers inside the recorded exchanges
RECORDED = {
    "https://rdap.verisign.com/com/v1/domain/google.com": ["abusecomplaints@markmonitor.com"],
    "https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM": ["abusecomplaints@markmonitor.com"],
    "https://rdap.arin.net/registry/autnum/13335": ["abuse@cloudflare.com"],
    "https://rdap.arin.net/registry/entity/GOVI": ["support@govital.net"],
    "https://rdap.apnic.net/ip/1.1.1.1": ["helpdesk@apnic.net", "resolver-abuse@cloudflare.com"],
    "https://rdap.apnic.net/ip/1.1.1.0/24": [
        "helpdesk@apnic.net",
        "resolver-abuse@cloudflare.com",
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
    abuse, org, country, prefix, _why = IPWHOIS[ip]
    out = parse_rdap(_ipwhois()[ip]["response"]).contract()
    assert out["abuse"] == abuse
    assert out["org"] == org
    assert out["country"] == country
    assert out["prefix"] == prefix


@pytest.mark.parametrize("ip", sorted(IPWHOIS))
def test_it_says_when_a_national_registry_must_be_asked(ip: str) -> None:
    out = parse_rdap(_ipwhois()[ip]["response"]).contract()
    if ip not in IPWHOIS_NIR:
        assert out["ask_nir"] is None
        return
    nir, server, theirs = IPWHOIS_NIR[ip]
    assert out["nir"] == nir
    assert out["ask_nir"]["nir"] == nir
    assert out["ask_nir"]["server"] == server
    assert out["ask_nir"]["nir_addresses"] == theirs
    # The NIR's hostmaster is neither the holder's abuse address nor a fallback contact.
    assert not set(theirs) & set(out["abuse"] + out["contacts"])


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
