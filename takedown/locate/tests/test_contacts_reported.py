"""The three registry-answer failures reported in issue 12, in answers shaped like
the registries' current output (written here: the reporter's corpus is not in
../shared; the real answers there are in test_contacts_rdap.py and
test_contacts_whois.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management import call_command

from takedown.locate.rdap import parse_rdap
from takedown.locate.whois import parse_whois


def vcard(name: str, *emails: tuple[str, dict[str, Any]], role: str = "") -> list[Any]:
    props: list[Any] = [["version", {}, "text", "4.0"], ["fn", {}, "text", name]]
    props.append(["kind", {}, "text", "group"])
    if role:
        props.append(["role", {}, "text", role])
    props.extend(["email", params, "text", addr] for addr, params in emails)
    return ["vcard", props]


# RIPE's RDAP: the abuse-c role's general e-mail ("ops@") and its abuse-mailbox
# (type "abuse") in one vCard, after an admin/tech role with its own e-mail.
RIPE_RDAP = {
    "objectClassName": "ip network",
    "handle": "192.0.2.0 - 192.0.2.255",
    "startAddress": "192.0.2.0",
    "endAddress": "192.0.2.255",
    "name": "EXAMPLE-NET",
    "country": "NL",
    "port43": "whois.ripe.net",
    "entities": [
        {
            "handle": "ORG-EX1-RIPE",
            "roles": ["registrant"],
            "vcardArray": vcard("Example Networks B.V."),
        },
        {
            "handle": "NOC1-RIPE",
            "roles": ["administrative", "technical"],
            "vcardArray": vcard("Example NOC", ("noc@example.net", {})),
        },
        {
            "handle": "AR1-RIPE",
            "roles": ["abuse"],
            "vcardArray": vcard(
                "Abuse-C Role",
                ("ops@example.net", {"type": "email"}),
                ("abuse@example.net", {"type": "abuse"}),
                role="abuse",
            ),
        },
    ],
}

# APNIC's WHOIS as it answered before its "% Abuse contact" line: the network's
# remark names an address, the IRT's abuse-mailbox is the declared abuse address.
APNIC_WHOIS = """% [whois.apnic.net]
% Whois data copyright terms    http://www.apnic.net/db/dbcopyright.html

% Information related to '203.0.113.0 - 203.0.113.255'

inetnum:        203.0.113.0 - 203.0.113.255
netname:        HOSTING-EXAMPLE
descr:          Example Hosting Pty Ltd
remarks:        Spam and abuse: please also copy noc@hosting.example
country:        AU
admin-c:        EH1-AP
tech-c:         EH1-AP
mnt-irt:        IRT-HOSTINGEXAMPLE-AU
status:         ASSIGNED NON-PORTABLE
source:         APNIC

irt:            IRT-HOSTINGEXAMPLE-AU
e-mail:         security@hosting.example
abuse-mailbox:  abuse@hosting.example
admin-c:        EH1-AP
tech-c:         EH1-AP
source:         APNIC
"""

# APNIC's WHOIS for a block delegated to JPNIC: the abuse-contact line and the
# IRT are JPNIC's own hostmaster, attached to every JPNIC block.
APNIC_JPNIC_WHOIS = """% [whois.apnic.net]
% Whois data copyright terms    http://www.apnic.net/db/dbcopyright.html

% Information related to '198.51.100.0 - 198.51.100.255'

% Abuse contact for '198.51.100.0 - 198.51.100.255' is 'hostmaster@nic.ad.jp'

inetnum:        198.51.100.0 - 198.51.100.255
netname:        EXAMPLE-JP-NET
descr:          Example K.K.
country:        JP
admin-c:        JNIC1-AP
tech-c:         JNIC1-AP
remarks:        Email address for spam or abuse complaints : abuse@example.co.jp
mnt-irt:        IRT-JPNIC-JP
status:         ALLOCATED PORTABLE
remarks:        This information has been partially mirrored by APNIC from
remarks:        JPNIC. To obtain more specific information, please use the
remarks:        JPNIC WHOIS Gateway at
remarks:        http://www.nic.ad.jp/en/db/whois/en-gateway.html or
remarks:        whois.nic.ad.jp for WHOIS client. (The WHOIS client
remarks:        defaults to Japanese output, use the /e switch for English
remarks:        output)
source:         JPNIC

irt:            IRT-JPNIC-JP
address:        Uchikanda OS Bldg 4F, 2-12-6 Uchi-Kanda
e-mail:         hostmaster@nic.ad.jp
abuse-mailbox:  hostmaster@nic.ad.jp
admin-c:        JNIC1-AP
tech-c:         JNIC1-AP
source:         APNIC

role:           Japan Network Information Center
e-mail:         hostmaster@nic.ad.jp
nic-hdl:        JNIC1-AP
source:         APNIC
"""

# The same block over APNIC's RDAP: JPNIC's IRT is the abuse role entity.
APNIC_JPNIC_RDAP = {
    "objectClassName": "ip network",
    "handle": "198.51.100.0 - 198.51.100.255",
    "startAddress": "198.51.100.0",
    "endAddress": "198.51.100.255",
    "name": "EXAMPLE-JP-NET",
    "country": "JP",
    "port43": "whois.apnic.net",
    "remarks": [{"title": "description", "description": ["Example K.K."]}],
    "entities": [
        {
            "handle": "IRT-JPNIC-JP",
            "roles": ["abuse"],
            "vcardArray": vcard("IRT-JPNIC-JP", ("hostmaster@nic.ad.jp", {"pref": "1"})),
        },
        {
            "handle": "JNIC1-AP",
            "roles": ["administrative", "technical"],
            "vcardArray": vcard("Japan Network Information Center", ("hostmaster@nic.ad.jp", {})),
        },
    ],
}


def test_it_takes_the_abuse_mailbox_of_ripes_abuse_role_not_its_general_e_mail() -> None:
    rec = parse_rdap(RIPE_RDAP)
    assert rec.abuse == ["abuse@example.net"]
    assert rec.contacts == ["noc@example.net", "ops@example.net"]


def test_it_counts_an_entity_whose_vcard_role_is_abuse() -> None:
    data = json.loads(json.dumps(RIPE_RDAP))
    data["entities"][2]["roles"] = []
    assert parse_rdap(data).abuse == ["abuse@example.net"]


def test_it_puts_the_irt_abuse_mailbox_before_a_remark() -> None:
    rec = parse_whois(APNIC_WHOIS)
    # The IRT's other e-mail comes last: an IRT's address, not one declared for abuse.
    assert rec.abuse == ["abuse@hosting.example", "noc@hosting.example", "security@hosting.example"]


def test_it_never_gives_jpnics_hostmaster_as_the_holders_abuse_address() -> None:
    rec = parse_whois(APNIC_JPNIC_WHOIS)
    assert rec.abuse == ["abuse@example.co.jp"]
    assert "hostmaster@nic.ad.jp" not in rec.contacts
    out = rec.contract()
    assert out["registry"] == "apnic"
    assert out["ask_nir"]["nir"] == "jpnic"
    assert out["ask_nir"]["server"] == "whois.nic.ad.jp"
    assert out["ask_nir"]["nir_addresses"] == ["hostmaster@nic.ad.jp"]


def test_it_sets_jpnics_irt_aside_in_rdap_too() -> None:
    rec = parse_rdap(APNIC_JPNIC_RDAP)
    assert rec.abuse == []
    assert rec.contacts == []
    assert rec.contract()["ask_nir"] == {
        "nir": "jpnic",
        "server": "whois.nic.ad.jp",
        "reason": (
            "JPNIC holds this block's records: the holder and its abuse address "
            "are in JPNIC's database, not in this answer"
        ),
        "nir_addresses": ["hostmaster@nic.ad.jp"],
    }


def test_the_contacts_command_says_the_nir_must_be_asked(tmp_path: Path, capsys: Any) -> None:
    saved = tmp_path / "apnic.txt"
    saved.write_text(APNIC_JPNIC_WHOIS)
    call_command("contacts", "--whois", str(saved))
    out = json.loads(capsys.readouterr().out)
    assert list(out)[:5] == ["abuse", "org", "country", "handle", "prefix"]
    assert out["abuse"] == ["abuse@example.co.jp"]
    assert out["ask_nir"]["nir"] == "jpnic"
