"""Which IP addresses locate may treat as hosting locations or contact as registries.

Reported host names are chosen by attackers: a phishing domain that resolves to
10.0.0.1 or 169.254.169.254 does not make the local network its "hosting
organisation", and a registry answer that links to such an address must not be
fetched.  The rule is the fetcher's (:func:`takedown.lib.guard.address_refusal`,
IANA's special-purpose registries), with one difference on purpose: with
``settings.ALLOW_LOOPBACK_TARGETS`` (the sandbox and the tests) all of
127.0.0.0/8 and ::1 are allowed, including 127.0.0.1, because the sandbox's
registries (RDAP, WHOIS, DNS) listen there and locate must reach them.  The
fetcher keeps 127.0.0.1 closed: it fetches what reporters send, locate only
talks to registries and reads DNS answers.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings

from takedown.lib.guard import IPNetwork
from takedown.lib.guard import address_refusal as guard_refusal

LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


def address_refusal(ip: str) -> str | None:
    """Why ``ip`` is not a public address we may use; None when it is fine."""
    if settings.ALLOW_LOOPBACK_TARGETS:
        return guard_refusal(ip, LOOPBACK, own=())
    return guard_refusal(ip, own=())
