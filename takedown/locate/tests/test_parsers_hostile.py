"""Registry answers written by strangers: nothing crashes, nothing is invented."""

from __future__ import annotations

import json

import pytest

from takedown.locate.rdap import RdapError, load_rdap, parse_rdap
from takedown.locate.records import abuse_lines, emails_in
from takedown.locate.whois import decode_whois, parse_whois, referral_server


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"<html>502 Bad Gateway</html>", b"\xff\xfe\x00", b"[1, 2, 3]", b'"text"', b"null"],
)
def test_it_rejects_what_is_not_an_rdap_object(raw: bytes) -> None:
    with pytest.raises(RdapError):
        load_rdap(raw)


def test_it_reports_an_rdap_error_document_as_an_error() -> None:
    with pytest.raises(RdapError, match="404"):
        parse_rdap({"errorCode": 404, "title": "Not Found", "description": ["nope"]})


def test_it_reads_a_network_with_no_entities_as_empty() -> None:
    rec = parse_rdap(
        {
            "objectClassName": "ip network",
            "handle": "NET-X",
            "startAddress": "192.0.2.0",
            "endAddress": "192.0.2.255",
            "name": "X",
        }
    )
    assert rec.abuse == []
    assert rec.prefix == "192.0.2.0/24"
    assert rec.org == "X"


@pytest.mark.parametrize(
    "doc",
    [
        {"objectClassName": "ip network", "entities": "not a list"},
        {"objectClassName": "ip network", "entities": [None, 3, "x", []]},
        {"objectClassName": "ip network", "entities": [{"roles": "abuse", "vcardArray": 5}]},
        {
            "objectClassName": "ip network",
            "entities": [{"roles": [1, None], "vcardArray": ["vcard"]}],
        },
        {"objectClassName": "ip network", "entities": [{"vcardArray": ["vcard", [["email"]]]}]},
        {"objectClassName": "ip network", "remarks": [{"description": [None, 3]}], "links": [5]},
        {"objectClassName": "ip network", "startAddress": "not-an-ip", "endAddress": "x"},
        {"objectClassName": "ip network", "cidr0_cidrs": [{"v4prefix": "300.1.1.1", "length": 99}]},
        {"objectClassName": 7, "handle": ["x"], "country": {"a": 1}},
    ],
)
def test_it_survives_malformed_rdap(doc: dict[str, object]) -> None:
    rec = parse_rdap(doc)
    assert rec.abuse == []
    assert rec.cidrs == []


def test_it_stops_at_absurdly_nested_entities() -> None:
    inner: dict[str, object] = {
        "roles": ["abuse"],
        "vcardArray": ["vcard", [["email", {}, "text", "deep@x.example"]]],
    }
    for _ in range(200):
        inner = {"handle": "H", "roles": ["technical"], "entities": [inner]}
    rec = parse_rdap({"objectClassName": "ip network", "entities": [inner]})
    assert rec.abuse == []


def test_it_notes_abuse_contacts_that_are_only_linked() -> None:
    rec = parse_rdap(
        {
            "objectClassName": "ip network",
            "entities": [
                {
                    "handle": "ORG-1",
                    "roles": ["registrant"],
                    "vcardArray": ["vcard", [["fn", {}, "text", "Example Org"]]],
                    "entities": [
                        {
                            "handle": "ABUSE-1",
                            "roles": ["abuse"],
                            "links": [
                                {"rel": "self", "href": "https://rdap.example/entity/ABUSE-1"}
                            ],
                        }
                    ],
                }
            ],
        }
    )
    assert rec.abuse == []
    assert rec.linked_abuse == ["https://rdap.example/entity/ABUSE-1"]


def test_it_follows_only_rdap_links() -> None:
    rec = parse_rdap(
        {
            "objectClassName": "ip network",
            "links": [
                {"rel": "related", "href": "https://netox.example/search/1.1.1.0%2F24"},
                {"rel": "related", "href": "javascript:alert(1)"},
                {"rel": "related", "href": "https://rdap.nir.example/ip/192.0.2.0/24"},
                {"rel": "up", "href": "file:///etc/passwd/ip/1"},
            ],
        }
    )
    assert rec.related == ["https://rdap.nir.example/ip/192.0.2.0/24"]
    assert rec.up is None


def test_it_takes_a_huge_rdap_document_without_trouble() -> None:
    doc = {
        "objectClassName": "ip network",
        "entities": [{"handle": f"E{i}", "roles": ["technical"]} for i in range(5000)],
    }
    assert parse_rdap(json.loads(json.dumps(doc))).abuse == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\x01\x02 garbage \xff",
        ":::::\n:::\n",
        "% only comments\n# here\n",
        "a" * 1_000_000,
        "x@" * 500_000,
        ("remarks: " + "a." * 40 + "@" + "b." * 40 + "\n") * 5_000,
        "inetnum: 10.0.0.0 - garbage\nnetname: X\n",
        "inetnum: 999.1/40\n",
        "NetRange: x - y\nCIDR: not, cidrs\nOrgName: O\n",
        "<html><body><pre>a. [Network Number] 999.999.0.0/99\n</pre></body></html>",
        "Domain Name:\n\nRegistrar:\n",
        "abuse-c: NOPE\n",
        # str.isdigit() is true for these and int() refuses them.
        "ASNumber: ²\nOrgName: O\n",
        "inetnum: ²³.1/19\nnetname: X\n",
        "NetRange: ².0.0.1 - 1.0.0.2\nOrgName: O\n",
    ],
)
@pytest.mark.timeout(60)  # a quadratic scan of the 1 MB inputs would take hours
def test_it_survives_garbage_whois(text: str) -> None:
    rec = parse_whois(text)
    assert isinstance(rec.abuse, list)


def test_it_decodes_jpnic_iso_2022_jp() -> None:
    text = (
        "Network Information: [ネットワーク情報]\r\n"
        "a. [IPネットワークアドレス]     192.0.2.0/24\r\n"
        "f. [組織名]                     例示ネットワーク株式会社\r\n"
        "g. [Organization]               Example Net\r\n"
        "o. [Abuse]                      abuse@net.example\r\n"
    )
    raw = text.encode("iso-2022-jp")
    assert b"\x1b$B" in raw  # what whois.nic.ad.jp sends
    rec = parse_whois(decode_whois(raw))
    assert rec.org == "Example Net"
    assert rec.org_local == "例示ネットワーク株式会社"
    assert rec.abuse == ["abuse@net.example"]
    assert rec.prefix == "192.0.2.0/24"


def test_it_decodes_shift_jis_and_latin1() -> None:
    assert "株式会社" in decode_whois("組織名: 例示株式会社\n".encode("shift_jis") * 20)
    assert decode_whois("owner: Fran\xe7ois\n".encode("latin-1")).startswith("owner: Fran")


def test_it_does_not_take_boilerplate_addresses_for_contacts() -> None:
    text = "domain: x.mx\n% If you want to report SPAM please email abuse@nic.mx\n"
    assert parse_whois(text).abuse == []


def test_it_reads_referrals_in_their_forms() -> None:
    assert referral_server("refer:        whois.apnic.net\n") == "whois.apnic.net"
    assert referral_server("ReferralServer:  rwhois://rwhois.example.net:4321\n") == (
        "rwhois.example.net:4321"
    )
    assert referral_server("   Registrar WHOIS Server: 127.0.0.1:4343\n") == "127.0.0.1:4343"
    assert referral_server("ReferralServer: https://evil.example/x\n") is None
    assert referral_server("refer: ; rm -rf /\n") is None


def test_it_finds_addresses_named_for_abuse_in_free_text() -> None:
    lines = [
        "All Cloudflare abuse reporting can be done via",
        "resolver-abuse@cloudflare.com",
        "For routing issues contact noc@example.net",
        "If related with spam, send mail to spam@example.net",
    ]
    assert abuse_lines(lines) == ["resolver-abuse@cloudflare.com"]
    assert emails_in("*  abuse@microsoft.com.  ") == ["abuse@microsoft.com"]
