"""``{% load locate %}{% locate_panel site %}``: where a site is and who is responsible."""

from __future__ import annotations

from typing import Any

from django import template

from takedown.locate.models import Location

register = template.Library()


@register.inclusion_tag("locate/panel.html")
def locate_panel(site: Any) -> dict[str, Any]:
    location = (
        Location.objects.filter(site=site)
        .select_related("organization", "registrar", "cdn")
        .order_by("-at", "-id")
        .first()
    )
    resolutions = site.resolutions.order_by("-at")[:5] if site is not None else []
    return {"site": site, "location": location, "resolutions": resolutions}
