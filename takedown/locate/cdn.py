"""Is a CDN or reverse proxy in front of the site?

When a phishing site sits behind Cloudflare, the IP address belongs to
Cloudflare: it is the party to notify (it forwards to the real host), and the
registrar is worth telling too.  Detected by the origin AS, by the network
holder's name, or by the CNAME the host points at.  ``settings.CDN_ASNS`` adds
networks (``64500=Example CDN``) for local knowledge and the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

CDN_ASNS: dict[int, str] = {
    13335: "Cloudflare",
    209242: "Cloudflare",
    20940: "Akamai",
    16625: "Akamai",
    16702: "Akamai",
    21342: "Akamai",
    21357: "Akamai",
    32787: "Akamai",
    54113: "Fastly",
    19551: "Imperva Incapsula",
    30148: "Sucuri",
    60068: "CDN77",
    15133: "Edgecast",
    22822: "Limelight",
    12989: "StackPath",
    20446: "StackPath",
    200325: "Bunny.net",
}
_CDN_NAMES = [
    (re.compile(r"cloudflare", re.I), "Cloudflare"),
    (re.compile(r"akamai", re.I), "Akamai"),
    (re.compile(r"fastly", re.I), "Fastly"),
    (re.compile(r"incapsula|imperva", re.I), "Imperva Incapsula"),
    (re.compile(r"sucuri", re.I), "Sucuri"),
    (re.compile(r"cdn77|datacamp", re.I), "CDN77"),
    (re.compile(r"edgecast", re.I), "Edgecast"),
    (re.compile(r"limelight", re.I), "Limelight"),
    (re.compile(r"stackpath|highwinds", re.I), "StackPath"),
    (re.compile(r"cloudfront", re.I), "Amazon CloudFront"),
]
_CDN_CNAMES = {
    ".cloudfront.net": "Amazon CloudFront",
    ".akamaiedge.net": "Akamai",
    ".akamaized.net": "Akamai",
    ".edgekey.net": "Akamai",
    ".edgesuite.net": "Akamai",
    ".fastly.net": "Fastly",
    ".fastlylb.net": "Fastly",
    ".cdn.cloudflare.net": "Cloudflare",
    ".azureedge.net": "Azure CDN",
    ".azurefd.net": "Azure Front Door",
    ".b-cdn.net": "Bunny.net",
    ".incapdns.net": "Imperva Incapsula",
    ".sucuri.net": "Sucuri",
    ".cdn77.org": "CDN77",
    ".edgecastcdn.net": "Edgecast",
    ".stackpathdns.com": "StackPath",
    ".kxcdn.com": "KeyCDN",
}


@dataclass(frozen=True)
class CdnMatch:
    name: str
    by: str  # "asn" | "name" | "cname"
    evidence: str


def configured_cdn_asns() -> dict[int, str]:
    # settings.CDN_ASNS is parsed (and checked) when the settings load.
    return {**CDN_ASNS, **settings.CDN_ASNS}


def detect_cdn(
    *, asn: int | None, org_name: str | None, cnames: list[str] | tuple[str, ...] = ()
) -> CdnMatch | None:
    if asn is not None:
        name = configured_cdn_asns().get(asn)
        if name:
            return CdnMatch(name, "asn", f"AS{asn}")
    for cname in cnames:
        for suffix, name in _CDN_CNAMES.items():
            if cname.lower().rstrip(".").endswith(suffix):
                return CdnMatch(name, "cname", cname)
    for pattern, name in _CDN_NAMES:
        if org_name and pattern.search(org_name):
            return CdnMatch(name, "name", org_name)
    return None
