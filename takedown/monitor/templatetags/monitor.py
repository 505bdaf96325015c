"""``{% monitor_panel site %}``: the site's checks and evidence, for the site page."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Sum

from takedown.cases.models import Site
from takedown.lib.defang import defang
from takedown.monitor.models import Check, Evidence, Watch

register = template.Library()

# Shown inline (escaped, in a <pre>); the whole body is a download.
TEXT_PREVIEW = 20_000


@register.inclusion_tag("monitor/site_panel.html")
def monitor_panel(site: Site) -> dict[str, Any]:
    # The last 25 runs of equal checks (each with its count and last time).
    checks = list(Check.objects.filter(site=site).order_by("-at", "-id")[:25])
    evidence = list(Evidence.objects.filter(site=site).order_by("at", "id"))
    previews = []
    for item in evidence:
        text = item.body_text if item.body else ""
        previews.append((item, text[:TEXT_PREVIEW], len(text) > TEXT_PREVIEW))
    return {
        "site": site,
        "checks": checks,
        "check_count": Check.objects.filter(site=site).aggregate(n=Sum("count"))["n"] or 0,
        "evidence": previews,
        "watch": Watch.objects.filter(site=site).first(),
    }


@register.filter(name="defang")
def defang_filter(url: str) -> str:
    return defang(url or "")
