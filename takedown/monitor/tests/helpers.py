from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from takedown.cases.models import EventKind, Site, SiteState
from takedown.cases.services import site_transition, sites_create_bulk
from takedown.monitor import services
from takedown.monitor.runner import Monitor
from takedown.monitor.tests.farm import BRAND, FARM_IP


def located_site(
    url: str,
    *,
    ip: str = FARM_IP,
    kind: str = "phishing",
    prefix: str = "127.0.0.0/24",
    **extra: Any,
) -> Site:
    """A site as the locate step leaves it, scheduled by the monitor."""
    host = url.split("/")[2].split(":")[0]
    site = sites_create_bulk(
        [{"url": url, "host": host, "registered_domain": host, "kind": kind, "brand": BRAND}]
    )[url]
    for key, value in extra.items():
        setattr(site, key, value)
    site.ip = ip
    site_transition(
        site,
        SiteState.LOCATED,
        kind=EventKind.LOCATE_DONE,
        update_fields=["ip", *extra],
        data={"prefix": prefix},
    )
    services.sites_schedule([site.pk])
    site.refresh_from_db()
    return site


def move(site: Site, state: str, **kwargs: Any) -> Site:
    site_transition(site, state, kind=kwargs.pop("kind", f"test.{state}"), **kwargs)
    site.refresh_from_db()
    return site


def make_due(*sites: Site, at: datetime | None = None) -> None:
    Site.objects.filter(pk__in=[s.pk for s in sites]).update(
        next_check=at or timezone.now() - timedelta(seconds=1)
    )


def check_round(capture: Any) -> int:
    """One monitor round with on-commit hand-offs executed; returns checks recorded."""
    with capture(execute=True), Monitor() as monitor:
        monitor.run_round()
        return monitor.checks_recorded
