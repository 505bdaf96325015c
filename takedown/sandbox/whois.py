"""The sandbox's WHOIS servers (port-43 protocol, RFC 3912), one loopback port each.

Servers, as on the internet: an IANA-like entry point that answers ``refer:`` with
the registry holding a network, AS number or TLD; one server per RIR answering in
that RIR's text format; JPNIC's, answering in Japanese encoded as ISO-2022-JP
(``/e`` at the end of the query asks for English, as on whois.nic.ad.jp); a
Verisign-like domain registry whose ``Registrar WHOIS Server:`` points at a
registrar's server. Wherever a real response names a WHOIS server host, the
sandbox gives ``127.0.0.1:PORT`` of the server standing in for it.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
from collections import Counter
from collections.abc import Callable

from takedown.sandbox.registry import JPNIC_IRT_EMAIL, JPNIC_IRT_HANDLE, Directory, Holding, postal
from takedown.sandbox.scenario import Registrar, Scenario

log = logging.getLogger(__name__)

RIR_NAMES = {
    "arin": "ARIN",
    "ripe": "RIPE NCC",
    "apnic": "APNIC",
    "lacnic": "LACNIC",
    "afrinic": "AFRINIC",
}
MAX_QUERY = 1024


def _range(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return f"{net.network_address} - {net.broadcast_address}"


def _rpsl(pairs: list[tuple[str, str]], width: int = 16) -> str:
    return "\n".join(f"{(k + ':').ljust(width)}{v}".rstrip() for k, v in pairs) + "\n"


class WhoisData:
    """Text answers; ``server`` names which server is answering."""

    def __init__(self, scenario: Scenario, address_of: Callable[[str], str]) -> None:
        self.scenario = scenario
        self.directory = Directory(scenario)
        self.address_of = address_of  # server name -> "127.0.0.1:PORT"

    # --- query parsing ---

    @staticmethod
    def parse(raw: str) -> tuple[str, set[str]]:
        """The object asked for, and flags (RIPE ``-B``, ARIN ``n +``, JPNIC ``/e``)."""
        flags: set[str] = set()
        tokens = raw.strip().split()
        words = []
        for tok in tokens:
            if (tok.startswith("-") and len(tok) > 1) or tok in (
                "+",
                "n",
                "a",
                "z",
                "r",
                "e",
                "o",
                "p",
                "!",
            ):
                flags.add(tok)
            else:
                words.append(tok)
        query = words[-1] if words else ""
        if query.lower().endswith("/e"):
            flags.add("/e")
            query = query[:-2]
        return query, flags

    # --- IANA ---

    def iana(self, query: str) -> str:
        head = (
            "% IANA WHOIS server\n"
            "% for more information on IANA, visit http://www.iana.org\n"
            "% This query returned 1 object\n\n"
        )
        asn = _asn(query)
        if asn is not None:
            holding = self.directory.by_asn(asn)
            if holding is None:
                return "% IANA WHOIS server\n% This query returned 0 objects.\n"
            server = self.address_of(holding.served_by)
            return head + (
                f"refer:        {server}\n\n"
                f"as-block:     AS{asn}-AS{asn}\n"
                f"organisation: Assigned by {RIR_NAMES[holding.served_by]}\n\n"
                f"whois:        {server}\n\n"
                "changed:      2010-04-01\n"
                "source:       IANA\n"
            )
        if _is_ip_or_net(query):
            found = self.directory.network_for(query)
            if found is None:
                return head + _rpsl(
                    [
                        ("inetnum", "127.0.0.0 - 127.255.255.255"),
                        ("organisation", "IANA - Loopback"),
                        ("status", "RESERVED"),
                        ("remarks", "Reserved for Loopback (RFC 1122)"),
                        ("source", "IANA"),
                    ],
                    14,
                )
            holding, net = found
            server = self.address_of(holding.served_by)
            return head + (
                f"refer:        {server}\n\n"
                f"inetnum:      {_range(net)}\n"
                f"organisation: Administered by {RIR_NAMES[holding.served_by]}\n"
                "status:       ALLOCATED\n\n"
                f"whois:        {server}\n\n"
                "changed:      2010-04-01\n"
                "source:       IANA\n"
            )
        name = query.lower().rstrip(".")
        tld = name.rsplit(".", 1)[-1]
        if tld in self.scenario.tlds:
            server = self.address_of("registry")
            return head + (
                f"refer:        {server}\n\n"
                f"domain:       {tld.upper()}\n\n"
                "organisation: Example Registry Services, LLC\n"
                "address:      1 Example Way\n"
                "address:      United States of America (the)\n\n"
                f"whois:        {server}\n\n"
                "status:       ACTIVE\n"
                "created:      1985-01-01\n"
                "source:       IANA\n"
            )
        return "% IANA WHOIS server\n% This query returned 0 objects.\n"

    # --- RIRs ---

    def rir(self, server: str, query: str) -> str:
        holding, net = None, None
        asn = _asn(query)
        if asn is not None:
            holding = self.directory.by_asn(asn, served_by=server)
        elif _is_ip_or_net(query):
            found = self.directory.network_for(query, served_by=server)
            if found is not None:
                holding, net = found
        else:
            found_contact = self.directory.contact(query, served_by=server)
            if found_contact is not None and found_contact[0].org.whois:
                return self._contact_only(server, *found_contact)
        if holding is None or not holding.org.whois:
            return self._no_match(server, query)
        if server == "arin":
            return self._arin(holding, net, asn)
        if server == "lacnic":
            return self._lacnic(holding, net, asn)
        return self._rpsl_registry(server, holding, net, asn)

    def _no_match(self, server: str, query: str) -> str:
        if server == "arin":
            return _ARIN_HEAD + f"\nNo match found for n + {query}.\n" + _ARIN_HEAD
        if server == "lacnic":
            return _LACNIC_HEAD + "\n% whois.lacnic.net accepts only direct match queries.\n"
        if server == "ripe":
            return (
                _RIPE_HEAD + "%ERROR:101: no entries found\n%\n% No entries found in source RIPE.\n"
            )
        if server == "afrinic":
            return "% This is the AfriNIC Whois server.\n\n%ERROR:101: no entries found\n"
        return "% [whois.apnic.net]\n% Whois data copyright terms    http://www.apnic.net/db/dbcopyright.html\n\n%ERROR:101: no entries found\n"  # noqa: E501 - copied server text

    def _contact_only(self, server: str, holding: Holding, contact: object) -> str:
        from takedown.sandbox.registry import Contact

        assert isinstance(contact, Contact)
        street, city, _region, code, _country, tel = postal(holding.org.country)
        return _rpsl(
            [
                ("role", contact.name),
                ("address", street),
                ("address", f"{city} {code}"),
                ("country", holding.org.country),
                ("phone", tel),
                ("e-mail", contact.email),
                *([("abuse-mailbox", contact.email)] if contact.role == "abuse" else []),
                ("nic-hdl", contact.handle),
                ("source", server.upper()),
            ]
        )

    def _arin(
        self,
        holding: Holding,
        net: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
        asn: int | None,
    ) -> str:
        org = holding.org
        street, city, region, code, _country, tel = postal(org.country)
        abuse, tech, admin = holding.contacts
        parts = [_ARIN_HEAD, ""]
        if net is not None:
            parts.append(
                f"NetRange:       {_range(net)}\n"
                f"CIDR:           {net}\n"
                f"NetName:        {holding.net_name(net)}\n"
                f"NetHandle:      {holding.arin_net_handle(net)}\n"
                "Parent:         NET127 (NET-127-0-0-0-0)\n"
                "NetType:        Direct Allocation\n"
                f"OriginAS:       AS{org.asn}\n"
                f"Organization:   {org.name} ({org.handle})\n"
                "RegDate:        2010-04-01\n"
                "Updated:        2024-06-01\n"
                f"Ref:            https://rdap.arin.net/registry/ip/{net.network_address}\n\n"
            )
        else:
            parts.append(
                f"ASNumber:       {asn}\n"
                f"ASName:         {org.id.upper()}-AS\n"
                f"ASHandle:       AS{asn}\n"
                "RegDate:        2010-04-01\n"
                "Updated:        2024-06-01\n"
                f"Ref:            https://rdap.arin.net/registry/autnum/{asn}\n\n"
            )
        parts.append(
            f"\nOrgName:        {org.name}\n"
            f"OrgId:          {org.handle}\n"
            f"Address:        {street}\n"
            f"City:           {city}\n"
            f"StateProv:      {region}\n"
            f"PostalCode:     {code}\n"
            f"Country:        {org.country}\n"
            "RegDate:        2008-04-01\n"
            "Updated:        2024-06-01\n"
            f"Ref:            https://rdap.arin.net/registry/entity/{org.handle}\n\n"
        )
        for label, contact in (("Abuse", abuse), ("NOC", tech), ("Tech", admin)):
            parts.append(
                f"\nOrg{label}Handle: {contact.handle}\n"
                f"Org{label}Name:   {contact.name}\n"
                f"Org{label}Phone:  {tel}\n"
                f"Org{label}Email:  {contact.email}\n"
                f"Org{label}Ref:    https://rdap.arin.net/registry/entity/{contact.handle}\n"
            )
        parts.append("\n" + _ARIN_HEAD)
        return "".join(parts)

    def _lacnic(
        self,
        holding: Holding,
        net: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
        asn: int | None,
    ) -> str:
        org = holding.org
        street, city, _region, code, _country, tel = postal(org.country)
        abuse, tech, admin = holding.contacts
        obj = (
            [("inetnum", str(net)), ("status", "assigned"), ("aut-num", f"AS{org.asn}")]
            if net is not None
            else [("aut-num", f"AS{asn}")]
        )
        text = (
            _LACNIC_HEAD
            + "\n"
            + _rpsl(
                [
                    *obj,
                    ("owner", org.name),
                    ("ownerid", org.handle),
                    ("responsible", admin.name),
                    ("address", street),
                    ("address", f"{code} - {city}"),
                    ("country", org.country),
                    ("phone", tel),
                    ("owner-c", admin.handle),
                    ("tech-c", tech.handle),
                    ("abuse-c", abuse.handle),
                    ("created", "20100401"),
                    ("changed", "20240601"),
                ],
                13,
            )
        )
        for contact in (admin, tech, abuse):
            text += "\n" + _rpsl(
                [
                    ("nic-hdl", contact.handle),
                    ("person", contact.name),
                    ("e-mail", contact.email),
                    ("address", street),
                    ("country", org.country),
                    ("phone", tel),
                    ("created", "20100401"),
                    ("changed", "20240601"),
                ],
                13,
            )
        return text + "\n% whois.lacnic.net accepts only direct match queries.\n"

    def _rpsl_registry(
        self,
        server: str,
        holding: Holding,
        net: ipaddress.IPv4Network | ipaddress.IPv6Network | None,
        asn: int | None,
    ) -> str:
        org = holding.org
        street, city, _region, code, _country, tel = postal(org.country)
        abuse, tech, admin = holding.contacts
        source = {"ripe": "RIPE", "apnic": "APNIC", "afrinic": "AFRINIC"}[server]
        jpnic = holding.registry == "jpnic"
        objects: list[str] = []
        head = {
            "ripe": _RIPE_HEAD,
            "afrinic": "% This is the AfriNIC Whois server.\n\n% Note: this output has been filtered.\n\n",  # noqa: E501 - copied server text
            "apnic": "% [whois.apnic.net]\n% Whois data copyright terms    http://www.apnic.net/db/dbcopyright.html\n\n",
        }[server]
        what = _range(net) if net is not None else f"AS{asn}"
        head += f"% Information related to '{what}'\n\n"
        if server == "ripe":
            head += f"% Abuse contact for '{what}' is '{abuse.email}'\n\n"
        elif server == "apnic":
            # APNIC names the IRT's abuse-mailbox here: for a JPNIC block that
            # is JPNIC's own hostmaster, not the holder's abuse desk.
            irt_mailbox = JPNIC_IRT_EMAIL if jpnic else abuse.email
            head += f"% Abuse contact for '{what}' is '{irt_mailbox}'\n\n"
        elif server == "afrinic":
            head += f"% No abuse contact registered for {what}\n\n"
        if net is not None:
            key = "inetnum" if net.version == 4 else "inet6num"
            pairs = [
                (key, _range(net) if net.version == 4 else str(net)),
                ("netname", holding.net_name(net)),
                ("descr", org.name),
                ("country", org.country),
            ]
        else:
            pairs = [
                ("aut-num", f"AS{asn}"),
                ("as-name", f"{org.id.upper()}-AS"),
                ("descr", org.name),
            ]
        if server in ("ripe", "afrinic"):
            pairs.append(("org", org.handle))
        pairs += [("admin-c", admin.handle), ("tech-c", tech.handle)]
        if server == "ripe":
            pairs.append(("abuse-c", abuse.handle))
        if server == "apnic":
            pairs.append(("mnt-irt", JPNIC_IRT_HANDLE if jpnic else abuse.handle))
        if net is not None:
            pairs.append(("status", "ASSIGNED NON-PORTABLE" if jpnic else "ASSIGNED PA"))
        if server == "afrinic":
            pairs.append(("remarks", f"please send abuse reports to {org.abuse_email}"))
        if jpnic:
            jp = self.address_of("jpnic")
            pairs += [
                ("remarks", "This information has been partially mirrored by APNIC from"),
                ("remarks", "JPNIC. To obtain more specific information, please use the"),
                ("remarks", "JPNIC WHOIS Database at"),
                ("remarks", "http://www.nic.ad.jp/en/db/whois/en-gateway.html or"),
                ("remarks", f"{jp} for WHOIS client. (The WHOIS client"),
                ("remarks", "defaults to Japanese output, use the /e switch for English"),
                ("remarks", "output)"),
            ]
        pairs += [
            ("mnt-by", f"MAINT-{org.id.upper()}"),
            ("last-modified", "2024-06-01T00:00:00Z"),
            ("source", "JPNIC" if jpnic else source),
        ]
        objects.append(_rpsl(pairs))
        if server == "apnic":
            if jpnic:
                objects.append(
                    _rpsl(
                        [
                            ("irt", JPNIC_IRT_HANDLE),
                            ("address", "Urbannet-Kanda Bldg 4F, 3-6-2 Uchi-Kanda"),
                            ("address", "Chiyoda-ku, Tokyo 101-0047, Japan"),
                            ("e-mail", JPNIC_IRT_EMAIL),
                            ("abuse-mailbox", JPNIC_IRT_EMAIL),
                            ("admin-c", "JNIC1-AP"),
                            ("tech-c", "JNIC1-AP"),
                            ("auth", "# Filtered"),
                            ("remarks", "hostmaster@nic.ad.jp is invalid"),
                            ("mnt-by", "MAINT-JPNIC"),
                            ("source", "APNIC"),
                        ]
                    )
                )
            else:
                objects.append(
                    _rpsl(
                        [
                            ("irt", abuse.handle),
                            ("address", f"{street}, {city} {code}"),
                            ("e-mail", abuse.email),
                            ("abuse-mailbox", abuse.email),
                            ("admin-c", admin.handle),
                            ("tech-c", tech.handle),
                            ("auth", "# Filtered"),
                            ("mnt-by", f"MAINT-{org.id.upper()}"),
                            ("source", "APNIC"),
                        ]
                    )
                )
        if server in ("ripe", "afrinic"):
            objects.append(
                _rpsl(
                    [
                        ("organisation", org.handle),
                        ("org-name", org.name),
                        ("org-type", "LIR"),
                        ("country", org.country),
                        ("address", street),
                        ("address", f"{code} {city}"),
                        ("phone", tel),
                        ("admin-c", admin.handle),
                        ("tech-c", tech.handle),
                        *([("abuse-c", abuse.handle)] if server == "ripe" else []),
                        ("source", f"{source} # Filtered"),
                    ]
                )
            )
        contacts = [admin, tech] if (jpnic or server == "afrinic") else [abuse, admin, tech]
        for contact in contacts:
            pairs = [
                ("role", contact.name),
                ("address", street),
                ("address", f"{code} {city}"),
                ("country", org.country),
                ("phone", tel),
                ("e-mail", contact.email),
            ]
            if contact.role == "abuse":
                pairs.append(("abuse-mailbox", contact.email))
            pairs += [("nic-hdl", contact.handle), ("source", "JPNIC" if jpnic else source)]
            objects.append(_rpsl(pairs))
        tail = ""
        if server == "ripe":
            tail = "\n% This query was served by the RIPE Database Query Service version 1.114 (SANDBOX)\n"  # noqa: E501 - copied server text
        elif server == "apnic":
            tail = (
                "\n% This query was served by the APNIC Whois Service version 1.88.25 (SANDBOX)\n"
            )
        return head + "\n".join(objects) + tail

    # --- JPNIC ---

    def jpnic(self, query: str, english: bool) -> str:
        holding = None
        net = None
        asn = _asn(query)
        if asn is not None:
            found_h = self.directory.by_asn(asn)
            holding = found_h if found_h is not None and found_h.registry == "jpnic" else None
        elif _is_ip_or_net(query):
            found = self.directory.network_for(query)
            if found is not None and found[0].registry == "jpnic":
                holding, net = found
        else:
            found_contact = self.directory.contact(query)
            if found_contact is not None and found_contact[0].registry == "jpnic":
                return self._jpnic_contact(*found_contact, english=english)
        if holding is None or not holding.org.whois:
            return _JPNIC_HEAD + "\nNo match!!\n"
        org = holding.org
        abuse, tech, admin = holding.contacts
        name_ja = org.name_ja or org.name
        if asn is not None:
            if english:
                lines = [
                    "Autonomous System Information:",
                    f"a. [AS Number]                  {asn}",
                    f"b. [AS Name]                    {org.id.upper()}-AS",
                    f"g. [Organization]               {org.name}",
                    f"m. [Administrative Contact]     {admin.handle}",
                    f"n. [Technical Contact]          {tech.handle}",
                    f"q. [Abuse]                      {abuse.email}",
                    "[Assigned Date]                 2010/04/01",
                    "[Last Update]                   2024/06/01 12:00:00(JST)",
                ]
            else:
                lines = [
                    "Autonomous System Information: [AS情報]",
                    f"a. [AS番号]                     {asn}",
                    f"b. [AS名]                       {org.id.upper()}-AS",
                    f"f. [組織名]                     {name_ja}",
                    f"g. [Organization]               {org.name}",
                    f"m. [管理者連絡窓口]             {admin.handle}",
                    f"n. [技術連絡担当者]             {tech.handle}",
                    f"q. [Abuse]                      {abuse.email}",
                    "[割当年月日]                    2010/04/01",
                    "[最終更新]                      2024/06/01 12:00:00(JST)",
                ]
        else:
            assert net is not None
            if english:
                lines = [
                    "Network Information:            ",
                    f"a. [Network Number]             {net}",
                    f"b. [Network Name]               {holding.net_name(net)}",
                    f"g. [Organization]               {org.name}",
                    f"m. [Administrative Contact]     {admin.handle}",
                    f"n. [Technical Contact]          {tech.handle}",
                    f"o. [Abuse]                      {abuse.email}",
                    f"p. [Nameserver]                 ns1.{org.domain}",
                    "[Assigned Date]                 2010/04/01",
                    "[Return Date]                   ",
                    "[Last Update]                   2024/06/01 12:00:00(JST)",
                    "                                ",
                    "Less Specific Info.",
                    "----------",
                    "No match!!",
                    "",
                    "More Specific Info.",
                    "----------",
                    "No match!!",
                ]
            else:
                lines = [
                    "Network Information: [ネットワーク情報]",
                    f"a. [IPネットワークアドレス]     {net}",
                    f"b. [ネットワーク名]             {holding.net_name(net)}",
                    f"f. [組織名]                     {name_ja}",
                    f"g. [Organization]               {org.name}",
                    f"m. [管理者連絡窓口]             {admin.handle}",
                    f"n. [技術連絡担当者]             {tech.handle}",
                    f"o. [Abuse]                      {abuse.email}",
                    f"p. [ネームサーバ]               ns1.{org.domain}",
                    "[割当年月日]                    2010/04/01",
                    "[返却年月日]                    ",
                    "[最終更新]                      2024/06/01 12:00:00(JST)",
                    "                                ",
                    "上位情報",
                    "----------",
                    "該当するデータがありません。",
                    "",
                    "下位情報",
                    "----------",
                    "該当するデータがありません。",
                ]
        return _JPNIC_HEAD + "\n" + "\n".join(lines) + "\n\n"

    def _jpnic_contact(self, holding: Holding, contact: object, *, english: bool) -> str:
        from takedown.sandbox.registry import Contact

        assert isinstance(contact, Contact)
        org = holding.org
        street, city, _region, code, _country, tel = postal(org.country)
        if english:
            lines = [
                "Contact Information:",
                f"a. [JPNIC Handle]               {contact.handle}",
                f"c. [Last, First]                {contact.name}",
                f"d. [E-Mail]                     {contact.email}",
                f"g. [Organization]               {org.name}",
                f"m. [TEL]                        {tel}",
                "[Last Update]                   2024/06/01 12:00:00(JST)",
            ]
        else:
            lines = [
                "Contact Information: [担当者情報]",
                f"a. [JPNICハンドル]              {contact.handle}",
                f"b. [氏名]                       {contact.name}",
                f"c. [Last, First]                {contact.name}",
                f"d. [電子メール]                 {contact.email}",
                f"f. [組織名]                     {org.name_ja or org.name}",
                f"g. [Organization]               {org.name}",
                f"m. [電話番号]                   {tel}",
                f"[住所]                          {code} {city} {street}",
                "[最終更新]                      2024/06/01 12:00:00(JST)",
            ]
        return _JPNIC_HEAD + "\n" + "\n".join(lines) + "\n\n"

    # --- domains ---

    def _domain_registrar(self, name: str) -> Registrar | None:
        for site in self.scenario.sites:
            if site.registered_domain == name:
                return self.scenario.registrar(site.registrar)
        return None

    def registry(self, query: str) -> str:
        name = query.lower().rstrip(".")
        registrar = self._domain_registrar(name)
        if registrar is None:
            return f'No match for "{name.upper()}".\n>>> Last update of whois database: 2025-01-01T00:00:00Z <<<\n'  # noqa: E501 - copied server text
        server = self.address_of(f"registrar/{registrar.id}") if registrar.whois else ""
        return (
            f"   Domain Name: {name.upper()}\n"
            f"   Registry Domain ID: {abs(_stable_hash(name))}_DOMAIN_{name.rsplit('.', 1)[-1].upper()}-SBX\n"  # noqa: E501 - copied server text
            f"   Registrar WHOIS Server: {server}\n"
            f"   Registrar URL: {registrar.url}\n"
            "   Updated Date: 2024-11-01T00:00:00Z\n"
            "   Creation Date: 2024-11-01T00:00:00Z\n"
            "   Registry Expiry Date: 2025-11-01T00:00:00Z\n"
            f"   Registrar: {registrar.name}\n"
            f"   Registrar IANA ID: {registrar.iana_id}\n"
            f"   Registrar Abuse Contact Email: {registrar.abuse_email}\n"
            "   Registrar Abuse Contact Phone: +1.5555550100\n"
            "   Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\n"
            f"   Name Server: NS1.{name.upper()}\n"
            f"   Name Server: NS2.{name.upper()}\n"
            "   DNSSEC: unsigned\n"
            "   URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/\n"
            ">>> Last update of whois database: 2025-01-01T00:00:00Z <<<\n\n"
            "For more information on Whois status codes, please visit https://icann.org/epp\n"
        )

    def registrar(self, registrar_id: str, query: str) -> str:
        name = query.lower().rstrip(".")
        registrar = self._domain_registrar(name)
        if registrar is None or registrar.id != registrar_id:
            return "No match for domain.\n"
        return (
            f"Domain Name: {name}\n"
            f"Registrar WHOIS Server: {self.address_of(f'registrar/{registrar.id}')}\n"
            f"Registrar URL: {registrar.url}\n"
            "Creation Date: 2024-11-01T00:00:00Z\n"
            "Registrar Registration Expiration Date: 2025-11-01T00:00:00Z\n"
            f"Registrar: {registrar.name}\n"
            f"Registrar IANA ID: {registrar.iana_id}\n"
            f"Registrar Abuse Contact Email: {registrar.abuse_email}\n"
            "Registrar Abuse Contact Phone: +1.5555550100\n"
            "Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\n"
            "Registrant Name: REDACTED FOR PRIVACY\n"
            "Registrant Organization: Privacy service provided by Withheld for Privacy\n"
            "Registrant Country: IS\n"
            "Registrant Email: Please query the RDDS service of the Registrar of Record identified in this output for information on how to contact the Registrant.\n"  # noqa: E501 - copied server text
            f"Name Server: ns1.{name}\n"
            f"Name Server: ns2.{name}\n"
            "DNSSEC: unsigned\n"
            ">>> Last update of WHOIS database: 2025-01-01T00:00:00Z <<<\n"
        )


def _stable_hash(text: str) -> int:
    import zlib

    return zlib.crc32(text.encode())


def _asn(query: str) -> int | None:
    m = re.fullmatch(r"(?i)AS(\d{1,10})", query)
    return int(m.group(1)) if m else None


def _is_ip_or_net(query: str) -> bool:
    try:
        if "/" in query:
            ipaddress.ip_network(query, strict=False)
        else:
            ipaddress.ip_address(query)
    except ValueError:
        return False
    return True


_ARIN_HEAD = (
    "\n#\n# ARIN WHOIS data and services are subject to the Terms of Use\n"
    "# available at: https://www.arin.net/resources/registry/whois/tou/\n#\n"
    "# If you see inaccuracies in the results, please report at\n"
    "# https://www.arin.net/resources/registry/whois/inaccuracy_reporting/\n#\n"
    "# Copyright 1997-2025, American Registry for Internet Numbers, Ltd.\n#\n\n"
)
_RIPE_HEAD = (
    "% This is the RIPE Database query service.\n"
    "% The objects are in RPSL format.\n%\n"
    "% The RIPE Database is subject to Terms and Conditions.\n"
    "% See https://docs.db.ripe.net/terms-conditions.html\n\n"
    "% Note: this output has been filtered.\n"
    '%       To receive output for a database update, use the "-B" flag.\n\n'
)
_LACNIC_HEAD = (
    "\n% Joint Whois - whois.lacnic.net\n"
    "%  This server accepts single ASN, IPv4 or IPv6 queries\n\n"
    "% LACNIC resource: whois.lacnic.net\n\n\n"
    "% Copyright LACNIC lacnic.net\n"
    "%  The data below is provided for information purposes\n"
    "%  and to assist persons in obtaining information about or\n"
    "%  related to AS and IP numbers registrations\n"
    "%  By submitting a whois query, you agree to use this data\n"
    "%  only for lawful purposes.\n\n"
)
_JPNIC_HEAD = (
    "[ JPNIC database provides information regarding IP address and ASN. Its use   ]\n"
    "[ is restricted to network administration purposes. For further information,  ]\n"
    "[ use 'whois -h whois.nic.ad.jp help'. To only display English output,        ]\n"
    "[ add '/e' at the end of command, e.g. 'whois -h whois.nic.ad.jp xxx/e'.      ]\n"
)


class WhoisServer:
    """All WHOIS servers of the sandbox, each on its own port of 127.0.0.1."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.host = "127.0.0.1"
        self.ports: dict[str, int] = {}
        self.queries: Counter[str] = Counter()
        self.data = WhoisData(scenario, self.address_of)
        self._servers: list[asyncio.Server] = []
        self.names = ["iana", "arin", "ripe", "apnic", "jpnic", "lacnic", "afrinic", "registry"]
        self.names += [f"registrar/{r.id}" for r in scenario.registrars if r.whois]

    def address_of(self, name: str) -> str:
        return f"{self.host}:{self.ports.get(name, 43)}"

    async def start(self) -> None:
        for name in self.names:
            server = await asyncio.start_server(functools.partial(self._handle, name), self.host, 0)
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()

    def answer(self, name: str, raw: str) -> bytes:
        query, flags = self.data.parse(raw)
        if name == "iana":
            text = self.data.iana(query)
        elif name == "jpnic":
            english = "/e" in flags
            text = self.data.jpnic(query, english)
            if not english:
                # JPNIC's Japanese answers are ISO-2022-JP, as whois.nic.ad.jp sends them.
                return text.replace("\n", "\r\n").encode("iso-2022-jp", errors="replace")
        elif name == "registry":
            text = self.data.registry(query)
        elif name.startswith("registrar/"):
            text = self.data.registrar(name.split("/", 1)[1], query)
        else:
            text = self.data.rir(name, query)
        # IANA and the RIRs end lines with LF alone; JPNIC (above) with CRLF.
        return text.encode("utf-8")

    async def _handle(
        self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.queries[name] += 1
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            raw = line[:MAX_QUERY].decode("utf-8", errors="replace")
            writer.write(self.answer(name, raw))
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass
        except Exception:
            log.exception("sandbox WHOIS %s failed", name)
        finally:
            writer.close()
