"""Response headers that keep hostile content inert in the handler's browser."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# Reported URLs and mail are shown as text; this policy is the second line of
# defence should an escaping bug ever let markup through: no inline scripts,
# no external loads, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/api/docs"):
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: with no-referrer browsers send "Origin: null"
        # on form posts and Django's CSRF check refuses every login.  Links
        # never point at reported sites, so nothing leaks to them either way.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


# The cookie that carries the reader's time zone: set by takedown.js from the
# browser's own setting on the first visit, or chosen in the page footer.
TZ_COOKIE = "takedown_tz"


@functools.cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone_from(value: str | None) -> str | None:
    """The IANA name in ``value`` if it is one this machine knows, else None."""
    if value and len(value) <= 64 and value in known_time_zones():
        return value
    return None


class UserTimezoneMiddleware:
    """Show times in the reader's time zone (``settings.TIME_ZONE`` until one is known)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = time_zone_from(request.COOKIES.get(TZ_COOKIE))
        if name:
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
