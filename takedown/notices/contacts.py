"""Who a notice goes to.

Addresses come only from the organisation directory (registry data found by
the locate step, or a handler's edits) and from the shipped CSIRT table,
never from the body or headers of an inbound mail.  An address that bounced
for an organisation is skipped until a handler allows it again.

Contacts are tried in tiers; the first tier with a usable address wins:
1. the organisation's abuse addresses;
2. its other registry contacts (technical, administrative) when the locate
   step recorded them;
3. the abuse addresses of its upstream network, when known.
Escalation (after the last follow-up) adds the registrar of each site's
domain, the CDN in front of it, the upstream network, and the national CSIRT
of the hosting country.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, prefetch_related_objects

from takedown.locate.models import Location
from takedown.notices.models import BadAddress, CountryCSIRT

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# Organisation attributes the locate step may fill with non-abuse contacts.
_OTHER_CONTACT_FIELDS = ("contact_emails", "tech_emails", "admin_emails", "noc_emails")


def clean_addresses(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        addr = value.strip().strip("<>").lower()
        if _EMAIL.match(addr) and len(addr) <= 254 and addr not in out:
            out.append(addr)
    return out


def blocked_addresses(org: Any) -> set[str]:
    return BadAddress.blocked_for(org)


def _own_addresses() -> set[str]:
    return {settings.NOTICE_FROM.lower(), settings.TEAM_EMAIL.lower()}


def _field(obj: Any, name: str) -> list[str]:
    value = getattr(obj, name, None)
    if isinstance(value, str):
        value = [value]
    return clean_addresses(value or [])


def contact_tiers(org: Any) -> list[tuple[str, list[str]]]:
    """The organisation's contacts in the order they are tried, with a label."""
    tiers: list[tuple[str, list[str]]] = [("abuse", _field(org, "abuse_emails"))]
    other: list[str] = []
    for name in _OTHER_CONTACT_FIELDS:
        other += [a for a in _field(org, name) if a not in other]
    contacts = getattr(org, "contacts", None)
    if isinstance(contacts, list):
        # Addresses, or {"role": ..., "email": ...} records (registry entities).
        for entry in contacts:
            value = entry.get("email") if isinstance(entry, dict) else entry
            other += [a for a in clean_addresses([value]) if a not in other]
    tiers.append(("contact", other))
    upstream = getattr(org, "upstream", None)
    if upstream is not None and upstream != org:
        tiers.append(("upstream", _field(upstream, "abuse_emails")))
    return tiers


def recipients_for(org: Any) -> tuple[str, list[str]]:
    """The first tier of usable addresses: ``(tier label, addresses)``."""
    skip = blocked_addresses(org) | _own_addresses()
    for label, addresses in contact_tiers(org):
        usable = [a for a in addresses if a not in skip]
        if usable:
            return label, usable
    return "", []


def _registrar_abuse(domains: list[str]) -> list[str]:
    """The registrars' abuse addresses the locate step recorded for these domains."""
    try:
        from takedown.locate.models import DomainRecord
    except ImportError:  # an older locate step without domain records
        return []
    out: list[str] = []
    for record in DomainRecord.objects.filter(domain__in=set(domains)).select_related("registrar"):
        for addr in clean_addresses(list(record.registrar_abuse or [])) + _field(
            record.registrar, "abuse_emails"
        ):
            if addr not in out:
                out.append(addr)
    return out


def escalation_recipients(org: Any, sites: Iterable[Any]) -> list[tuple[str, str]]:
    """``(role, address)`` pairs an escalation goes to."""
    skip = blocked_addresses(None) | _own_addresses()
    pairs: list[tuple[str, str]] = []

    def add(role: str, addresses: list[str]) -> None:
        for addr in addresses:
            if addr not in skip and addr not in [a for _, a in pairs]:
                pairs.append((role, addr))

    site_list = list(sites)
    # One query for every site's locations rather than one per site.
    prefetch_related_objects(
        site_list,
        Prefetch(
            "locations",
            queryset=Location.objects.select_related("registrar", "cdn").order_by("-at", "-id"),
        ),
    )
    for site in site_list:
        # The registrar and any CDN in front are on the site's latest location.
        location = next(iter(site.locations.all()), None)
        for role in ("registrar", "cdn"):
            party = getattr(location, role, None) if location is not None else None
            if party is not None:
                add(role, _field(party, "abuse_emails"))
    add("registrar", _registrar_abuse([s.registered_domain for s in site_list]))
    upstream = getattr(org, "upstream", None) if org is not None else None
    if upstream is not None:
        add("upstream", _field(upstream, "abuse_emails"))
    country = (getattr(org, "country", "") or "").upper()
    if country:
        csirt = CountryCSIRT.objects.filter(country=country, enabled=True).exclude(email="").first()
        if csirt is not None:
            add("csirt", clean_addresses([csirt.email]))
    return pairs
