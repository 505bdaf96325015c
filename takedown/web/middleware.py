"""Response headers that keep hostile content inert in the handler's browser."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone

# Reported URLs and mail are shown as text; this policy is the second line of
# defence should an escaping bug ever let markup through: no inline scripts,
# no external loads, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


# The OpenAPI page runs Swagger UI from the files django-ninja ships (no CDN):
# scripts and styles from here only (a browser test opens an operation and its
# "Try it out" form with no CSP report), the schema and calls to this origin.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A NUL can only arrive percent-encoded; PostgreSQL refuses it in any
        # query, so a filter carrying one is answered here instead of with a 500.
        if "%00" in request.META.get("QUERY_STRING", ""):
            return HttpResponseBadRequest(
                "NUL characters are not accepted", content_type="text/plain; charset=utf-8"
            )
        response = self.get_response(request)
        docs = request.path.startswith("/api/docs")
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
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
