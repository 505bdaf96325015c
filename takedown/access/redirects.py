"""Where a form sends the user back to: a path on this site, never elsewhere.

Forms carry a ``next`` field so a handler returns to the page they acted
from.  A hostile link can fill it, so only a local path is followed; Django's
``url_has_allowed_host_and_scheme`` knows the tricks browsers accept
(``/\\evil.example``, ``//evil.example``, control characters, odd schemes).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def local_next(request: HttpRequest, default: str) -> str:
    """The POSTed ``next`` when it is a path on this site, else ``default``."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
