"""The reader's time zone: chosen in the page footer (or told by the browser), kept in a cookie."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from takedown.access.roles import Role, role_required
from takedown.web.middleware import TZ_COOKIE, time_zone_from

# Offered in the footer; any other IANA name the browser reports works too.
COMMON_TIME_ZONES = [
    "Asia/Tokyo",
    "UTC",
    "Asia/Seoul",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
]


def time_zone_context(request: HttpRequest) -> dict[str, Any]:
    current = timezone.get_current_timezone_name()
    names = list(dict.fromkeys([current, settings.TIME_ZONE, *COMMON_TIME_ZONES]))
    return {"time_zones": names}


@role_required(Role.VIEWER)
@require_POST
def set_timezone(request: HttpRequest) -> HttpResponse:
    """Every reader may choose how times are shown to them (it changes nothing else)."""
    name = time_zone_from(request.POST.get("tz"))
    if name is None:
        return HttpResponseBadRequest("unknown time zone", content_type="text/plain")
    target = request.POST.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"
    response = redirect(target)
    response.set_cookie(TZ_COOKIE, name, max_age=365 * 24 * 3600, samesite="Lax")
    return response
