"""What a registry said about a network, an AS, a domain or an entity, format-free.

``rdap.parse_rdap`` and ``whois.parse_whois`` both produce a
:class:`RegistryRecord`; ``takedown contacts`` prints it, the locator merges
several of them (RDAP, the NIR's WHOIS, a followed link) into one location.

Abuse addresses are collected with a *tier* and sorted by it, most specific
first, as CONTRACT.md asks:

1. an ``abuse`` role (RDAP entity, RIPE ``abuse-c``, ARIN ``OrgAbuseEmail``,
   LACNIC ``abuse-c``, JPNIC ``[Abuse]``, a registrar's abuse contact);
2. abuse remarks and ``abuse-mailbox`` attributes of the holder's objects, and
   any ``abuse@`` style address in them;
3. IRT objects (APNIC's ``mnt-irt``): often the holder's, sometimes a national
   registry's (JPNIC's IRT is attached to every JPNIC block), hence last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from takedown.lib.ids import ascii_digits

REGISTRIES = ("arin", "ripe", "apnic", "lacnic", "afrinic", "jpnic", "krnic")
REGISTRY_HOSTS = {
    "whois.nic.ad.jp": "jpnic",
    "whois.ripe.net": "ripe",
    "whois.arin.net": "arin",
    "whois.apnic.net": "apnic",
    "whois.lacnic.net": "lacnic",
    "whois.afrinic.net": "afrinic",
    "whois.krnic.net": "krnic",
    "whois.iana.org": "iana",
}


_HANDLE_SUFFIXES = {
    "-ARIN": "arin",
    "-RIPE": "ripe",
    "-AP": "apnic",
    "-JP": "jpnic",
    "-AFRINIC": "afrinic",
    "-LACNIC": "lacnic",
    "-KR": "krnic",
}


def registry_of_handle(handle: str | None) -> str | None:
    """``ORG-EXAMPLE-RIPE`` -> ripe; ``IRT-EXAMPLE-AP`` -> apnic."""
    upper = (handle or "").upper()
    for suffix, name in _HANDLE_SUFFIXES.items():
        if upper.endswith(suffix):
            return name
    return None


def registry_of(text: str) -> str | None:
    """Which registry a server name or URL belongs to (``rdap.lacnic.net`` -> lacnic)."""
    low = text.lower()
    for host, name in REGISTRY_HOSTS.items():
        if host in low:
            return name
    for name in REGISTRIES:
        if re.search(rf"(^|[./]){name}([./-]|$)", low):
            return name
    return None


TIER_ROLE = 1
TIER_REMARK = 2
TIER_IRT = 3


@dataclass(frozen=True)
class Nir:
    """A National Internet Registry: APNIC delegates blocks to it and mirrors
    only part of its records; the holder and its abuse address are at the NIR."""

    name: str  # jpnic
    label: str  # JPNIC, as APNIC writes it in handles and remarks
    whois: str | None  # its WHOIS server when an answer names none
    domains: tuple[str, ...]  # the NIR's own mail domains (its hostmaster, its IRT)


NIRS = {
    nir.name: nir
    for nir in (
        Nir("jpnic", "JPNIC", "whois.nic.ad.jp", ("nic.ad.jp",)),
        Nir("krnic", "KRNIC", "whois.kisa.or.kr", ("nic.or.kr", "kisa.or.kr", "krnic.net")),
        Nir("twnic", "TWNIC", "whois.twnic.net.tw", ("twnic.net.tw", "twnic.tw", "twnic.net")),
        Nir("cnnic", "CNNIC", "whois.cnnic.cn", ("cnnic.cn", "cnnic.net.cn")),
        Nir("idnic", "IDNIC", "whois.idnic.net", ("idnic.net", "idnic.id", "apjii.or.id")),
        # No public port-43 server known for these two: the answer's remark must name one.
        Nir("vnnic", "VNNIC", None, ("vnnic.vn", "vnnic.net.vn")),
        Nir("irinn", "IRINN", None, ("irinn.in",)),
    )
}


def is_nir_address(nir: str, address: str) -> bool:
    """``hostmaster@nic.ad.jp`` is JPNIC's own, never a holder's abuse desk."""
    known = NIRS.get(nir)
    domain = address.rsplit("@", 1)[-1].lower()
    return known is not None and any(domain == d or domain.endswith("." + d) for d in known.domains)


def set_aside_nir_addresses(rec: RegistryRecord, nir_owned: list[str]) -> None:
    """Move the NIR's own addresses (its hostmaster, its IRT's) out of ``abuse``
    and ``contacts`` of a record for a block the NIR holds the details of."""
    if not rec.nir:
        return
    nir = rec.nir
    owned = {a.lower() for a in nir_owned}

    def theirs(addr: str) -> bool:
        return addr in owned or is_nir_address(nir, addr)

    found = [a for a in rec.abuse + rec.irt_abuse + rec.contacts if theirs(a)]
    rec.nir_addresses = list(dict.fromkeys(rec.nir_addresses + found))
    rec.abuse = [a for a in rec.abuse if not theirs(a)]
    rec.irt_abuse = [a for a in rec.irt_abuse if not theirs(a)]
    rec.contacts = [a for a in rec.contacts if not theirs(a)]


# Deliberately plain: addresses in registry data are ASCII in practice, and a
# narrow pattern keeps punctuation around them ("*  abuse@x.com.") out.
# Bounded repetitions keep the search linear: "aaaa..." in a hostile answer must
# not make the scan quadratic (RFC 5321: local part <= 64, labels <= 63).
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'=-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
ABUSE_WORD = re.compile(r"abuse", re.IGNORECASE)


def emails_in(text: str) -> list[str]:
    out = []
    for match in EMAIL_RE.finditer(text or ""):
        addr = match.group(0).strip(".'-").lower()
        if "@" in addr and "." in addr.rsplit("@", 1)[1]:
            out.append(addr)
    return out


def abuse_lines(lines: list[str]) -> list[str]:
    """Addresses given for abuse in free text (remarks, descriptions, comments).

    An address counts when its line mentions abuse (or is itself an ``abuse@``
    style address), or when it stands on the line right after a line that
    mentions abuse but names no address ("abuse reporting can be done via" /
    "resolver-abuse@...").
    """
    found: list[str] = []
    pending = False
    for line in lines:
        addrs = emails_in(line)
        if ABUSE_WORD.search(line):
            if addrs:
                found.extend(addrs)
                pending = False
            else:
                pending = True
            continue
        if pending and addrs:
            found.extend(addrs)
        pending = False
    return found


@dataclass
class AbuseCollector:
    """Addresses with their tier; ``result()`` sorts by tier, keeps first-seen order."""

    items: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, tier: int, addresses: list[str] | str, depth: int = 0) -> None:
        if isinstance(addresses, str):
            addresses = emails_in(addresses)
        for addr in addresses:
            self.items.append((tier, depth, addr.lower()))

    def result(self) -> list[str]:
        seen: dict[str, None] = {}
        # sorted() is stable: equal (tier, depth) keep the order they were read in
        for _tier, _depth, addr in sorted(self.items, key=lambda item: (item[0], item[1])):
            seen.setdefault(addr, None)
        return list(seen)

    def tier_of(self, address: str) -> int | None:
        tiers = [t for t, _d, a in self.items if a == address.lower()]
        return min(tiers) if tiers else None


@dataclass
class RegistryRecord:
    """One registry answer, reduced to what takedowns need; unknown fields are None."""

    source: str = ""  # "rdap" | "whois"
    registry: str | None = None  # arin, ripe, apnic, lacnic, afrinic, jpnic... when known
    object_class: str = "unknown"  # ip network | autnum | domain | entity | unknown
    abuse: list[str] = field(default_factory=list)
    # Addresses from the IRT tier only: the locator drops them when the holder's
    # own abuse address is known from a more specific source (JPNIC's IRT).
    irt_abuse: list[str] = field(default_factory=list)
    org: str | None = None
    org_local: str | None = None  # the name in the local script (JPNIC's 組織名)
    org_type: str | None = None  # registry's own classification, e.g. JPRS "University"
    # where ``org`` came from: registrant | organisation | description | name
    org_from: str | None = None
    country: str | None = None
    handle: str | None = None  # the holder's handle (org) or, failing that, the object's
    network_handle: str | None = None
    name: str | None = None  # netname / AS name / domain name
    prefix: str | None = None
    cidrs: list[str] = field(default_factory=list)
    start: str | None = None
    end: str | None = None
    asn: int | None = None
    contacts: list[str] = field(default_factory=list)  # other (technical, admin) addresses
    contact_handles: list[str] = field(default_factory=list)  # JPNIC: contacts to look up
    registrar: dict[str, Any] | None = None  # {"name", "abuse", "iana_id", "url"}
    nameservers: list[str] = field(default_factory=list)
    nir: str | None = None  # "jpnic", "krnic"... when a national registry holds the details
    nir_server: str | None = None  # its WHOIS server as the record names it
    # The NIR's own addresses found in the answer (never the holder's abuse desk).
    nir_addresses: list[str] = field(default_factory=list)
    nir_answer: bool = False  # the answer is the NIR's own (nothing further to ask)
    referrals: list[str] = field(default_factory=list)  # WHOIS servers / RDAP URLs named
    related: list[str] = field(default_factory=list)  # RDAP rel=related links
    up: str | None = None  # RDAP rel=up link
    linked_abuse: list[str] = field(default_factory=list)  # RDAP abuse entities without e-mail
    port43: str | None = None
    notes: list[str] = field(default_factory=list)

    def contract(self) -> dict[str, Any]:
        """The JSON of ``takedown contacts`` (CONTRACT.md): stable keys first."""
        out: dict[str, Any] = {
            "abuse": list(self.abuse),
            "org": self.org,
            "country": self.country,
            "handle": self.handle,
            "prefix": self.prefix,
        }
        out.update(
            {
                "object": self.object_class,
                "source": self.source,
                "registry": self.registry,
                "name": self.name,
                "org_local": self.org_local,
                "network_handle": self.network_handle,
                "cidrs": list(self.cidrs),
                "asn": self.asn,
                "contacts": list(self.contacts),
                "registrar": self.registrar,
                "nameservers": list(self.nameservers),
                "nir": self.nir,
                "referrals": list(self.referrals),
                "ask_nir": self.ask_nir(),
            }
        )
        return out

    def ask_nir(self) -> dict[str, Any] | None:
        """When the block's details are at an NIR and this answer is not the NIR's:
        who must be asked, where, and which of the NIR's own addresses were left out."""
        if not self.nir or self.nir_answer:
            return None
        known = NIRS.get(self.nir)
        label = known.label if known else self.nir.upper()
        return {
            "nir": self.nir,
            "server": self.nir_server or (known.whois if known else None),
            "reason": (
                f"{label} holds this block's records: the holder and its abuse address "
                f"are in {label}'s database, not in this answer"
            ),
            "nir_addresses": list(self.nir_addresses),
        }


def range_to_cidrs(start: str, end: str) -> list[str]:
    """``192.0.2.0``..``192.0.2.255`` -> ``["192.0.2.0/24"]``; [] when not addresses."""
    import ipaddress

    try:
        first = ipaddress.ip_address(_strip_len(start))
        last = ipaddress.ip_address(_strip_len(end))
        if first.version != last.version or int(last) < int(first):
            return []
        return [str(n) for n in ipaddress.summarize_address_range(first, last)]
    except ValueError:
        return []


def _strip_len(addr: str) -> str:
    """Registries write addresses oddly: ``074.125.000.000``, ``2a00::/128``."""
    addr = addr.strip().split("/")[0]
    if "." in addr and ":" not in addr:
        parts = addr.split(".")
        if len(parts) == 4 and all(ascii_digits(p) for p in parts):
            return ".".join(str(int(p)) for p in parts)
    return addr


def normalise_addr(addr: str) -> str:
    return _strip_len(addr)


def summary_prefix(
    cidrs: list[str], start: str | None = None, end: str | None = None
) -> str | None:
    """One CIDR when the network is one; otherwise the range as the registry wrote it."""
    if len(cidrs) == 1:
        return cidrs[0]
    if start and end:
        return f"{start} - {end}"
    return cidrs[0] if cidrs else None


def cidr_containing(cidrs: list[str], ip: str) -> str | None:
    import ipaddress

    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    for c in cidrs:
        try:
            net = ipaddress.ip_network(c, strict=False)
        except ValueError:
            continue
        if addr.version == net.version and addr in net:
            return str(net)
    return None
