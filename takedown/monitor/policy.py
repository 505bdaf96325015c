"""The fetch policy of this deployment, built from settings (the fetcher itself knows no Django)."""

from __future__ import annotations

import ipaddress

from django.conf import settings

from takedown.lib.fetch import FetchPolicy


def fetch_policy(**overrides: object) -> FetchPolicy:
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    if settings.ALLOW_LOOPBACK_TARGETS:
        allow = tuple(ipaddress.ip_network(n, strict=False) for n in settings.LOOPBACK_TARGETS)
    values: dict[str, object] = {
        "allow_networks": allow,
        "resolver": settings.DNS_RESOLVER,
        "dns_timeout": settings.DNS_TIMEOUT,
        "connect_timeout": settings.FETCH_CONNECT_TIMEOUT,
        "read_timeout": settings.FETCH_READ_TIMEOUT,
        "total_timeout": settings.FETCH_TIMEOUT,
        "max_body": settings.FETCH_MAX_BODY,
        "http_port": settings.HTTP_PORT,
        "https_port": settings.HTTPS_PORT,
        "ca_bundle": settings.CA_BUNDLE,
        "accept_language": settings.FETCH_ACCEPT_LANGUAGE,
        "concurrency": settings.MONITOR_CONCURRENCY,
        "per_host": settings.MONITOR_PER_HOST,
    }
    values.update(overrides)
    return FetchPolicy(**values)  # type: ignore[arg-type]
