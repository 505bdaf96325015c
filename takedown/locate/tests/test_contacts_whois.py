"""Abuse contacts from every real WHOIS response in ../shared/data/whois/ (and the
RADB route answers in ../shared/data/rdap/ipwhois/asn.json).

Expected addresses were read from each file by hand: an abuse role
(``% Abuse contact``, ``OrgAbuseEmail``, ``abuse-c``, ``Registrar Abuse Contact
Email``, an ``Abuse Contact:`` section), then abuse remarks and
``abuse-mailbox``, then IRT objects.  Addresses in the servers' ``%``/``#``
boilerplate (``abuse@nic.mx`` about NIC Mexico itself) are not the record's.
"""

from __future__ import annotations

import json

import pytest

from takedown.lib.testdata import require_shared
from takedown.locate.whois import decode_whois, parse_whois

# ipwhois/whois.json: (abuse, org, country, prefix); ``abuse[0]`` is the right first address.
IP_WHOIS = {
    # AFRINIC: "No abuse contact registered", but a remark names one
    "196.11.240.215": (
        ["abuse@mtnbusiness.co.za"],
        "MTN SA",
        "ZA",
        "196.11.239.0 - 196.11.246.255",
    ),
    # RIPE: the "% Abuse contact" line, then the network's abuse remark
    "62.239.237.1": (["protect@bt.com", "btcertcc@bt.com"], "UDC", "GB", "62.239.237.0/24"),
    # APNIC, a KRNIC block: DACOM's abuse@ (an e-mail of its role, named in a
    # remark); KRNIC's IRT hostmaster@nic.or.kr is KRNIC's own, set aside
    "210.107.73.73": (["abuse@bora.net"], "DACOM Corp.", "KR", "210.107.0.0/17"),
    # ARIN: OrgAbuseEmail and RAbuseEmail, the same POC
    "2001:4860:4860::8888": (["arin-contact@google.com"], "Google Inc.", "US", "2001:4860::/32"),
    # LACNIC: abuse-c JDM7 -> its e-mail
    "2801:10:c000::": (
        ["sistemas.red@uco.edu.co"],
        "Universidad Catolica de Oriente",
        "CO",
        "2801:10:c000::/48",
    ),
    # RIPE: the "% Abuse contact" line, then the remark of the network
    "2a00:2381:ffff::1": (
        ["protect@bt.com", "abuse@bt.net"],
        "BT World IPv6 Launch",
        "GB",
        "2a00:2381:ffff::/64",
    ),
    "74.125.225.229": (["arin-contact@google.com"], "Google Inc.", "US", "74.125.0.0/16"),
    # AFRINIC: persons without e-mail, no remark about abuse
    "2001:43f8:7b0::": (
        [],
        "Telecommunication Sevice  Providers Association of Kenya - TESPOK",
        "KE",
        "2001:43f8:7b0::/48",
    ),
    # LACNIC's abbreviated "200.57.128/19"
    "200.57.141.161": (
        ["operacion.redes@triara.com"],
        "Triara.com, S.A. de C.V.",
        "MX",
        "200.57.128.0/19",
    ),
    # APNIC mirror of a JPNIC assignment: the most specific object is IIJ's /48,
    # without contacts; JPNIC's role (hostmaster@nic.ad.jp) is JPNIC's own
    "2001:240:10c:1::ca20:9d1d": (
        [],
        "Internet Initiative Japan Inc.",
        "JP",
        "2001:240:10c::/48",
    ),
}
# Blocks delegated to a national registry: (nir, server the answer names, the NIR's addresses)
IP_WHOIS_NIR = {
    "2001:240:10c:1::ca20:9d1d": ("jpnic", "whois.nic.ad.jp", ["hostmaster@nic.ad.jp"]),
    "210.107.73.73": ("krnic", "whois.krnic.net", ["hostmaster@nic.or.kr"]),
}

# domains/raw/*: the registrar's abuse address where one is given
DOMAIN_ABUSE = {
    "abc.xyz": ["registryescalations@markmonitor.com"],
    "about.us": ["reg-support@support.neustar"],
    "app.nl": ["abuse@hostingsecure.com"],
    "cyberciti.biz": ["abuse@godaddy.com"],
    "google.ai": ["abusecomplaints@markmonitor.com"],
    "google.co.id": ["info@digitalregistra.co.id"],
    "google.com.ua": ["abusecomplaints@markmonitor.com"],
    "google.ie": ["abusecomplaints@markmonitor.com"],
    "nic.live": ["abuse@identity.digital"],
    "nyan.cat": ["direction@gandi.net"],
    "seal.jobs": ["email@godaddy.com"],
    "urlowl.com": ["abuse@dynadot.com"],
}
# Read and found to name no abuse address (registrant, admin or tech contacts
# only, redacted, or none at all).
DOMAIN_NO_ABUSE = {
    "abc.rs", "abv.bg", "afip.gob.ar", "allegro.pl", "amazon.co.uk", "brainly.lat",
    "cbc.ca", "davidwalsh.name", "digg.com", "druid.fi", "drupalcamp.by", "eurid.eu",
    "google.at", "google.cl", "google.co.cr", "google.co.il", "google.co.ve", "google.com",
    "google.com.br", "google.com.pe", "google.com.sa", "google.com.sg", "google.com.tr",
    "google.com.tw", "google.de", "google.do", "google.fr", "google.hn", "google.hu",
    "google.it", "google.kg", "google.lu", "google.lv", "google.mx", "google.ro", "google.sk",
    "imdb.com", "liechtenstein.li", "microsoft.com", "reddit.com", "sapo.pt", "sbc.org.hk",
    "shazow.net", "slashdot.org", "squatter.net", "titech.ac.jp", "univ-paris8.fr",
    "web.de", "willhaben.at", "www.gov.uk", "yahoo.co.jp", "yahoo.co.nz", "yandex.kz",
    "yandex.ru",
}  # fmt: skip
# Registrar names as each file gives them (a selection of the layouts).
DOMAIN_REGISTRAR = {
    "abc.rs": "Mainstream Public Cloud Services d.o.o.",
    "abc.xyz": "MarkMonitor, Inc (TLDs)",
    "allegro.pl": "Corporation Service Company",  # a "REGISTRAR:" section
    "amazon.co.uk": "Amazon.com, Inc. t/a Amazon.com, Inc. [Tag = AMAZON-COM]",
    "app.nl": "Hosting Secure",
    "druid.fi": "CSL Computer Service Langenbach GmbH (d/b/a joker.com)",  # "registrar.....:"
    "eurid.eu": "EURid vzw",  # "Registrar:" then "Name:"
    "google.lu": "Markmonitor",
    "google.co.il": "Domain The Net Technologies Ltd",
    "nic.live": "Registry Operator acts as Registrar (9999)",
    "slashdot.org": "Tucows Inc. (R11-LROR)",
}


def test_it_covers_every_ip_whois_response() -> None:
    data = json.loads(require_shared("data/whois/ipwhois/whois.json").read_text())
    assert set(data) == set(IP_WHOIS)


@pytest.mark.parametrize("ip", sorted(IP_WHOIS))
def test_it_reads_rir_whois(ip: str) -> None:
    data = json.loads(require_shared("data/whois/ipwhois/whois.json").read_text())
    abuse, org, country, prefix = IP_WHOIS[ip]
    out = parse_whois(data[ip]["response"]).contract()
    assert out["abuse"] == abuse
    assert out["org"] == org
    assert out["country"] == country
    assert out["prefix"] == prefix


@pytest.mark.parametrize("ip", sorted(IP_WHOIS))
def test_it_sends_the_reader_of_an_apnic_mirror_to_the_nir(ip: str) -> None:
    data = json.loads(require_shared("data/whois/ipwhois/whois.json").read_text())
    out = parse_whois(data[ip]["response"]).contract()
    if ip not in IP_WHOIS_NIR:
        assert out["ask_nir"] is None
        return
    nir, server, theirs = IP_WHOIS_NIR[ip]
    assert out["ask_nir"]["nir"] == nir
    assert out["ask_nir"]["server"] == server
    assert out["ask_nir"]["nir_addresses"] == theirs
    assert not set(theirs) & set(out["abuse"] + out["contacts"])


def test_it_reads_the_jpnic_web_gateway() -> None:
    data = json.loads(require_shared("data/whois/ipwhois/jpnic.json").read_text())
    rec = parse_whois(data["133.1.2.5"]["response"])
    # JPNIC publishes contacts as handles; no abuse address in this answer.
    assert rec.abuse == []
    assert rec.org == "Osaka University"
    assert rec.prefix == "133.1.0.0/16"
    assert rec.country == "JP"
    assert rec.contact_handles == ["MY22537JP"]
    assert rec.nameservers == ["a.osaka-u.ac.jp", "b.osaka-u.ac.jp", "dns-x.sinet.ad.jp"]
    # JPNIC's own answer: nothing further to ask.
    assert rec.contract()["ask_nir"] is None


def test_it_reads_the_krnic_web_gateway() -> None:
    data = json.loads(require_shared("data/whois/ipwhois/krnic.json").read_text())
    rec = parse_whois(data["115.1.2.3"]["response"])
    # The IP manager's address is a contact, not an abuse address.
    assert rec.abuse == []
    assert rec.contacts == ["kornet_ip@kt.com"]
    assert rec.org == "KT"  # the more specific assignment, not the allocation
    assert rec.prefix == "115.1.2.0/26"
    assert rec.country == "KR"
    assert rec.contract()["ask_nir"] is None


def test_it_reads_radb_route_objects_without_inventing_abuse() -> None:
    data = json.loads(require_shared("data/rdap/ipwhois/asn.json").read_text())
    assert len(data) == 10
    for item in data.values():
        assert parse_whois(item["response"]).abuse == []
    rec = parse_whois(data["74.125.225.229"]["response"])
    assert rec.object_class == "route"
    assert rec.asn == 15169


def test_it_covers_every_domain_whois_response() -> None:
    raw = require_shared("data/whois/domains/raw")
    assert {p.name for p in raw.iterdir()} == set(DOMAIN_ABUSE) | DOMAIN_NO_ABUSE
    assert not set(DOMAIN_ABUSE) & DOMAIN_NO_ABUSE


@pytest.mark.parametrize("name", sorted(set(DOMAIN_ABUSE) | DOMAIN_NO_ABUSE))
def test_it_reads_domain_whois(name: str) -> None:
    text = decode_whois(require_shared("data/whois/domains/raw", name).read_bytes())
    rec = parse_whois(text)
    assert rec.abuse == DOMAIN_ABUSE.get(name, [])
    if name in DOMAIN_ABUSE:
        assert rec.registrar is not None and rec.registrar["abuse"] == DOMAIN_ABUSE[name]


@pytest.mark.parametrize("name", sorted(DOMAIN_REGISTRAR))
def test_it_finds_the_registrar_name(name: str) -> None:
    text = decode_whois(require_shared("data/whois/domains/raw", name).read_bytes())
    rec = parse_whois(text)
    assert rec.registrar is not None
    assert rec.registrar["name"] == DOMAIN_REGISTRAR[name]


def test_it_reads_the_jprs_organisation_type() -> None:
    text = decode_whois(require_shared("data/whois/domains/raw/titech.ac.jp").read_bytes())
    rec = parse_whois(text)
    assert rec.object_class == "domain"
    assert rec.org == "Institute of Science Tokyo"
    assert rec.org_type == "University"


def test_it_follows_the_iana_referral_in_a_saved_answer() -> None:
    text = decode_whois(require_shared("data/whois/domains/raw/nic.live").read_bytes())
    from takedown.locate.whois import referral_server

    assert referral_server(text) == "whois.nic.live"


def test_it_follows_a_referral_in_an_answer_with_crlf_line_ends() -> None:
    from takedown.locate.whois import referral_server

    # RFC 3912: WHOIS lines end in CRLF.
    text = "% IANA WHOIS server\r\n\r\nrefer:        whois.ripe.net\r\n\r\ninetnum: 193.0.0.0\r\n"
    assert referral_server(text) == "whois.ripe.net"
