"""Which IP addresses may be treated as real hosting locations or contacted.

Reported host names are chosen by attackers: a phishing domain that resolves to
10.0.0.1 or 169.254.169.254 does not make the local network its "hosting
organisation", and a registry answer that links to such an address must not be
fetched.  Loopback is allowed only when ``settings.ALLOW_LOOPBACK_TARGETS`` is
on (the sandbox and the tests run everything on 127.0.0.0/8).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def address_refusal(ip: str) -> str | None:
    """Why ``ip`` is not a public address we may use; None when it is fine."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_loopback:
        return None if settings.ALLOW_LOOPBACK_TARGETS else "loopback address"
    if addr.is_unspecified:
        return "unspecified address"
    if addr.is_multicast:
        return "multicast address"
    if addr.is_link_local:
        return "link-local address"
    if addr.is_private:
        return "private address"
    if addr.is_reserved or not addr.is_global:
        return "reserved address"
    return None
