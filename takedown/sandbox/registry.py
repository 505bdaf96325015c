"""Who holds what in the sandbox: handles, contacts and addresses for registry records.

RDAP (``rdap.py``) and WHOIS (``whois.py``) describe the same objects in their own
formats; both take the facts from here so the two never disagree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from takedown.sandbox.scenario import Organization, Scenario

# JPNIC's own incident response team object, which APNIC attaches as the abuse
# contact of every JPNIC-managed block: a naive reader takes it for the holder's.
JPNIC_IRT_HANDLE = "IRT-JPNIC-JP"
JPNIC_IRT_EMAIL = "hostmaster@nic.ad.jp"

ADDRESSES = {
    "JP": ("1-2-3 Otemachi", "Chiyoda-ku", "Tokyo", "100-0004", "JAPAN", "+81-3-5555-0100"),
    "US": ("1 Example Way", "Reston", "VA", "20190", "UNITED STATES", "+1-703-555-0100"),
    "DE": ("Beispielstrasse 1", "Frankfurt am Main", "", "60311", "GERMANY", "+49-69-5555-0100"),
    "GB": ("1 Example Street", "London", "", "EC1A 1AA", "UNITED KINGDOM", "+44-20-5555-0100"),
    "BR": ("Rua Exemplo 100", "Sao Paulo", "SP", "01000-000", "BRAZIL", "+55-11-5555-0100"),
    "ZA": ("1 Example Road", "Johannesburg", "", "2196", "SOUTH AFRICA", "+27-11-555-0100"),
    "KR": ("1 Example-ro", "Seoul", "", "04524", "KOREA", "+82-2-555-0100"),
}


def postal(country: str) -> tuple[str, str, str, str, str, str]:
    return ADDRESSES.get(
        country, ("1 Example Road", "Example City", "", "00000", country, "+1-555-0100")
    )


@dataclass(frozen=True)
class Contact:
    handle: str
    role: str  # abuse | technical | administrative
    name: str
    email: str


@dataclass(frozen=True)
class Holding:
    """One organisation's records at its registry."""

    org: Organization
    index: int

    @property
    def registry(self) -> str:
        return self.org.registry

    @property
    def served_by(self) -> str:
        """The RIR whose RDAP and WHOIS serve the records (APNIC mirrors JPNIC)."""
        return "apnic" if self.org.registry == "jpnic" else self.org.registry

    def _suffix(self) -> str:
        return {
            "arin": "-ARIN",
            "ripe": "-RIPE",
            "apnic": "-AP",
            "jpnic": "JP",
            "lacnic": "",
            "afrinic": "-AFRINIC",
        }[self.registry]

    def _handle(self, prefix: str) -> str:
        n = 100 + self.index
        if self.registry == "jpnic":
            return f"{prefix[:2]}{n}{self._suffix()}"
        return f"{prefix}{n}{self._suffix()}"

    @property
    def abuse(self) -> Contact:
        if self.registry == "apnic":
            handle = f"IRT-{self.org.handle.removesuffix('-AP')}-AP"
        else:
            handle = self._handle("ABUSE")
        return Contact(handle, "abuse", f"{self.org.name} Abuse Desk", self.org.abuse_email)

    @property
    def technical(self) -> Contact:
        return Contact(self._handle("NOC"), "technical", f"{self.org.name} NOC", self.org.noc_email)

    @property
    def administrative(self) -> Contact:
        return Contact(
            self._handle("HM"),
            "administrative",
            f"{self.org.name} Hostmaster",
            self.org.hostmaster_email,
        )

    @property
    def contacts(self) -> tuple[Contact, ...]:
        return (self.abuse, self.technical, self.administrative)

    def net_name(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
        base = "".join(ch for ch in self.org.id.upper() if ch.isalnum())[:16] or "NET"
        if self.registry == "arin":
            return base
        if self.registry == "jpnic":
            return f"{base}-NET"
        return f"{base}-{self.org.country}"

    def arin_net_handle(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
        return "NET-" + str(net.network_address).replace(".", "-").replace(":", "-") + "-1"


class Directory:
    """Look-ups across the scenario's registries."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.holdings = [Holding(org, i) for i, org in enumerate(scenario.organizations)]

    def network_for(
        self, query: str, *, served_by: str | None = None
    ) -> tuple[Holding, ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
        """Most specific network containing an address or a CIDR (exact or inside)."""
        try:
            if "/" in query:
                target = ipaddress.ip_network(query, strict=False)
            else:
                addr = ipaddress.ip_address(query)
                target = ipaddress.ip_network(addr)
        except ValueError:
            return None
        best: tuple[int, Holding | None, ipaddress.IPv4Network | ipaddress.IPv6Network | None]
        best = (-1, None, None)
        for holding in self.holdings:
            if served_by is not None and holding.served_by != served_by:
                continue
            for net in holding.org.networks:
                if net.version != target.version:
                    continue
                if target.subnet_of(net) and net.prefixlen > best[0]:  # type: ignore[arg-type]
                    best = (net.prefixlen, holding, net)
        if best[1] is None or best[2] is None:
            return None
        return best[1], best[2]

    def by_asn(self, asn: int, *, served_by: str | None = None) -> Holding | None:
        for holding in self.holdings:
            if holding.org.asn == asn and (served_by is None or holding.served_by == served_by):
                return holding
        return None

    def contact(
        self, handle: str, *, served_by: str | None = None
    ) -> tuple[Holding, Contact] | None:
        wanted = handle.upper()
        for holding in self.holdings:
            if served_by is not None and holding.served_by != served_by:
                continue
            for contact in holding.contacts:
                if contact.handle.upper() == wanted:
                    return holding, contact
        return None

    def org_by_handle(self, handle: str, *, served_by: str | None = None) -> Holding | None:
        wanted = handle.upper()
        for holding in self.holdings:
            if served_by is not None and holding.served_by != served_by:
                continue
            if holding.org.handle.upper() == wanted:
                return holding
        return None
