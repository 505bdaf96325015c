"""Who a notice goes to: the organisation's contacts, then each rung of the ladder.

Addresses come only from the organisation directory (registry data found by
the locate step, or a handler's edits) and from the CSIRT table an operator
enables, never from the body or headers of an inbound mail.  An address that
bounced is skipped until a handler allows it again (for the organisation, or
everywhere for registrars, CDNs and CSIRTs).

The organisation's own contacts are tried in tiers; the first tier with a
usable address wins:
1. its abuse addresses;
2. its other registry contacts (technical, administrative), which the locate
   step records in ``Organization.contact_emails``.

After the organisation (``models.LADDER``): the registrar of each site's
domain, the CDN in front of the site (when it is not the organisation
itself), and the national CSIRT of the hosting country.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, prefetch_related_objects

from takedown.cases.models import Site
from takedown.locate.models import DomainRecord, Location, Organization
from takedown.notices.models import BadAddress, CountryCSIRT, Rung

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def clean_addresses(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        addr = value.strip().strip("<>").lower()
        if _EMAIL.match(addr) and len(addr) <= 254 and addr not in out:
            out.append(addr)
    return out


def _own_addresses() -> set[str]:
    return {settings.NOTICE_FROM.lower(), settings.TEAM_EMAIL.lower()}


def contact_tiers(org: Organization | None) -> list[tuple[str, list[str]]]:
    """The organisation's contacts in the order they are tried, with a label."""
    if org is None:
        return []
    return [
        ("abuse", clean_addresses(org.abuse_emails or [])),
        ("contact", clean_addresses(org.contact_emails or [])),
    ]


def recipients_for(org: Organization | None) -> tuple[str, list[str]]:
    """The first tier of usable addresses: ``(tier label, addresses)``."""
    skip = BadAddress.blocked_for(org) | _own_addresses()
    for label, addresses in contact_tiers(org):
        usable = [a for a in addresses if a not in skip]
        if usable:
            return label, usable
    return "", []


def _latest_locations(sites: list[Site]) -> list[Location]:
    """Each site's latest location (the registrar and CDN are recorded there)."""
    # One query for every site's locations rather than one per site.
    prefetch_related_objects(
        sites,
        Prefetch(
            "locations",
            queryset=Location.objects.select_related("registrar", "cdn", "network").order_by(
                "-at", "-id"
            ),
        ),
    )
    out = []
    for site in sites:
        location = next(iter(site.locations.all()), None)
        if location is not None:
            out.append(location)
    return out


def _registrar_addresses(sites: list[Site], locations: list[Location]) -> list[str]:
    out: list[str] = []
    for location in locations:
        if location.registrar is not None:
            out += clean_addresses(location.registrar.abuse_emails or [])
    for record in DomainRecord.objects.filter(
        domain__in={s.registered_domain for s in sites}
    ).select_related("registrar"):
        out += clean_addresses(record.registrar_abuse or [])
        if record.registrar is not None:
            out += clean_addresses(record.registrar.abuse_emails or [])
    return out


def hosting_country(org: Organization | None, locations: list[Location]) -> str:
    """The country of the network the sites are hosted on, as the registry says."""
    if org is not None and org.country:
        return org.country.upper()
    for location in locations:
        if location.network is not None and location.network.country:
            return location.network.country.upper()
    return ""


def rung_recipients(rung: str, org: Organization | None, sites: Iterable[Site]) -> list[str]:
    """The usable addresses of ``rung`` for a thread about ``sites`` hosted by ``org``."""
    site_list = list(sites)
    if rung == Rung.ORGANIZATION:
        return recipients_for(org)[1]
    locations = _latest_locations(site_list)
    found: list[str] = []
    if rung == Rung.REGISTRAR:
        found = _registrar_addresses(site_list, locations)
    elif rung == Rung.CDN:
        for location in locations:
            cdn = location.cdn
            # A CDN detected by its network is the organisation itself: it
            # was the first rung already.
            if cdn is not None and (org is None or cdn.pk != org.pk):
                found += clean_addresses(cdn.abuse_emails or [])
    elif rung == Rung.CSIRT:
        country = hosting_country(org, locations)
        csirt = (
            CountryCSIRT.objects.filter(country=country, enabled=True).exclude(email="").first()
            if country
            else None
        )
        if csirt is not None:
            found = clean_addresses([csirt.email])
    skip = BadAddress.blocked_for(None) | _own_addresses()
    return [a for a in dict.fromkeys(found) if a not in skip]
