"""Who may call an API operation: a bearer token or the browser's session, and a role.

Each operation names the role it needs through the auth list it is given
(``READ``, ``ACT``, ``ADMIN``).  A request without valid credentials gets 401;
one whose role is too low gets 403.  A token acts with its owner's role at the
time of the request, lowered to the token's own cap when it has one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer

from takedown.access.roles import Role, role_of
from takedown.web.models import ApiToken, hash_token


def _require(role: Role, granted: Role | None) -> None:
    if granted is None or not granted.includes(role):
        raise HttpError(403, f"this needs the {role.value} role")


class BearerAuth(HttpBearer):
    """``Authorization: Bearer tkd_...`` (``takedown token create`` or the Users page)."""

    def __init__(self, role: Role) -> None:
        self.role = role
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        obj = (
            ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(token), revoked__isnull=True)
            .first()
        )
        if obj is None or not obj.user.is_active:
            return None
        _require(self.role, role_of(obj.user, obj.role))
        ApiToken.objects.filter(pk=obj.pk).update(last_used=timezone.now())
        request.user = obj.user
        request.api_token = obj  # type: ignore[attr-defined]
        return obj.user


class SessionAuth(APIKeyCookie):
    """The handler UI's login session (unsafe methods need the CSRF token)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self, role: Role) -> None:
        self.role = role
        super().__init__(csrf=True)

    def _get_key(self, request: HttpRequest) -> str | None:
        # No session cookie: not this scheme, so a token client that got its
        # token wrong hears 401, not a CSRF failure.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key is None or not request.user.is_authenticated:
            return None
        _require(self.role, role_of(request.user))
        return request.user


def api_auth(role: Role) -> list[Any]:
    return [BearerAuth(role), SessionAuth(role)]


READ = api_auth(Role.VIEWER)
ACT = api_auth(Role.HANDLER)
ADMIN = api_auth(Role.ADMIN)


def api_actor(request: HttpRequest) -> str:
    """``actor`` on the timeline for what an API call does: ``api:<user>``."""
    return f"api:{request.user.get_username()}"
