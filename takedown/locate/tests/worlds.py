"""Generated sandbox scenarios for bulk locating (tests and ``bench/locate.py``)."""

from __future__ import annotations

from typing import Any

REGISTRY_STYLES = (
    # (registry, rdap, kind, country)
    ("ripe", True, "overseas", "DE"),
    ("apnic", True, "isp", "JP"),
    ("arin", True, "overseas", "US"),
    ("afrinic", True, "overseas", "ZA"),
    ("jpnic", True, "isp", "JP"),
    ("lacnic", False, "overseas", "BR"),
    ("jpnic", False, "company", "JP"),
)


def bulk_scenario(
    networks: int,
    urls: int,
    *,
    styles: tuple[tuple[str, bool, str, str], ...] = REGISTRY_STYLES,
    first_octet: int = 100,
    ips_per_network: int | None = None,
) -> dict[str, Any]:
    """``urls`` sites spread round-robin over ``networks`` /16 networks.

    Each network belongs to its own organisation, in the registry styles given
    (RDAP and WHOIS-only, JPNIC mirrors...); each network's sites share one
    registered domain, so domain lookups are one per network too.  With
    ``ips_per_network`` the hosts of a network share that many addresses (the
    sandbox's site farm listens on every address, twice).
    """
    orgs = []
    for j in range(networks):
        registry, rdap, kind, country = styles[j % len(styles)]
        name = {
            "isp": f"Example Net {j}",
            "company": f"Example Trading Corp {j}",
            "overseas": f"Example Hosting {j} Ltd",
        }[kind]
        orgs.append(
            {
                "id": f"org{j}",
                "name": name,
                "country": country,
                "kind": kind,
                "registry": registry,
                "rdap": rdap,
                "networks": [f"127.{first_octet + j}.0.0/16"],
                "asn": 64600 + j,
                "abuse_email": f"abuse@org{j}.example",
            }
        )
    sites = []
    for k in range(urls):
        j = k % networks
        n = k // networks
        a = n % ips_per_network if ips_per_network else n
        sites.append(
            {
                "id": f"u{k}",
                "url": f"http://h{n}.bulk{j}.example/login/{k}",
                "ip": f"127.{first_octet + j}.{a // 250}.{a % 250 + 1}",
            }
        )
    return {
        "name": f"bulk-{networks}x{urls}",
        "duration": 60,
        "organizations": orgs,
        "sites": sites,
    }
