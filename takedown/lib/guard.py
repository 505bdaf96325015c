"""The address guard: may Takedown connect to, or take as a hosting location, this IP?

Reported URLs, fetched pages and registry answers are chosen by attackers; a
host name that resolves to 10.0.0.1, 169.254.169.254 or 192.0.0.192 must not
make us fetch from our own network or treat it as someone's hosting.  One
function, :func:`address_refusal`, answers for the fetcher
(``takedown.lib.fetch``), the screenshot path (through the fetcher) and locate
(``takedown.locate.addresses``), so the three never disagree.

The rule, from IANA's IPv4 and IPv6 Special-Purpose Address Registries (shipped
as ``data/special-purpose.json``, written from IANA's XML by
``takedown.lib.iana_special``): an address inside a registered block is
allowed only when the most specific block containing it is marked "Globally
Reachable: True" (192.0.0.9, the PCP anycast address, is reachable although
192.0.0.0/24 is not); "False", "N/A" (Teredo, 6to4) and terminated blocks are
refused.  Besides the registries: the deprecated site-local fec0::/10
(RFC 3879), multicast, IPv6 outside the global unicast space 2000::/3, and a
NAT64 address (64:ff9b::/96) whose embedded IPv4 address is refused.

Python's ``ipaddress`` flags are not used: they call 192.0.0.0/24 and
fec0::/10 global.  Framework-free: callers pass what the deployment allows
(loopback in the sandbox and the tests).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DATA = Path(__file__).resolve().parent / "data" / "special-purpose.json"

# Addresses the fetcher never connects to, even when loopback targets are allowed:
# the host's own services (the web UI, the sandbox's DNS, SMTP and registry
# servers) listen there, and "0.0.0.0" connects to the local host on Linux.
OWN_ADDRESSES: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.1/32"),
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
    ipaddress.ip_network("::/128"),
)
GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Block:
    network: IPNetwork
    name: str
    rfc: str
    reachable: bool | None  # IANA's "Globally Reachable"; None: N/A or terminated


# Refused although the special-purpose registries do not list them.
EXTRA_BLOCKS = (
    Block(ipaddress.ip_network("fec0::/10"), "Site-Local (deprecated)", "RFC 3879", False),
    Block(ipaddress.ip_network("224.0.0.0/4"), "Multicast", "RFC 5771", False),
    Block(ipaddress.ip_network("ff00::/8"), "Multicast", "RFC 4291", False),
)


@dataclass(frozen=True)
class Registry:
    ipv4_updated: str
    ipv6_updated: str
    blocks: tuple[Block, ...]


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The shipped blocks plus :data:`EXTRA_BLOCKS`."""
    doc = json.loads(DATA.read_text(encoding="utf-8"))
    blocks = tuple(
        Block(ipaddress.ip_network(b["prefix"]), b["name"], b["rfc"], b["global"])
        for b in doc["blocks"]
    )
    return Registry(doc["ipv4_updated"], doc["ipv6_updated"], blocks + EXTRA_BLOCKS)


@lru_cache(maxsize=1)
def _by_length() -> dict[int, list[tuple[int, int, Block]]]:
    """Per IP version: (network as int, prefix length, block), longest prefix first."""
    out: dict[int, list[tuple[int, int, Block]]] = {4: [], 6: []}
    for block in registry().blocks:
        net = block.network
        out[net.version].append((int(net.network_address), net.prefixlen, block))
    for items in out.values():
        items.sort(key=lambda item: -item[1])
    return out


def special_block(addr: IPAddress) -> Block | None:
    """The most specific special-purpose block containing ``addr``, if any."""
    value = int(addr)
    bits = addr.max_prefixlen
    for base, length, block in _by_length()[addr.version]:
        shift = bits - length
        if value >> shift == base >> shift:
            return block
    return None


def address_refusal(
    ip: str | IPAddress,
    allow: Iterable[IPNetwork] = (),
    *,
    own: Iterable[IPNetwork] = OWN_ADDRESSES,
) -> str | None:
    """Why ``ip`` must not be used, or ``None`` when it may be.

    ``allow`` lists networks the deployment opted into (loopback in the sandbox
    and the tests); ``own`` the host's own addresses, refused even then.
    """
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0]) if isinstance(ip, str) else ip
    except ValueError:
        return f"{str(ip)[:100]!r} is not an IP address"
    for net in own:
        if addr.version == net.version and addr in net:
            return f"{addr} is this host's own address"
    for net in allow:
        if addr.version == net.version and addr in net:
            return None
    block = special_block(addr)
    if block is not None and block.reachable is not True:
        what = "not globally reachable" if block.reachable is False else "not to be used"
        return f"{addr} is in {block.network} ({block.name}, {block.rfc}): {what}"
    if block is None and addr.version == 6 and addr not in GLOBAL_UNICAST_V6:
        return f"{addr} is outside the IPv6 global unicast space {GLOBAL_UNICAST_V6}"
    if isinstance(addr, ipaddress.IPv6Address) and addr in NAT64_WELL_KNOWN:
        # A NAT64 gateway on our network would carry this to the embedded address.
        embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        why = address_refusal(embedded, own=own)
        if why is not None:
            return f"{addr} embeds {embedded}: {why}"
    return None
