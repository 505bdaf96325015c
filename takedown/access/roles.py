"""Roles: who may read, who may act, who may administer (docs/access.md).

Three roles, each including the one before it:

- ``viewer`` reads everything a team member sees;
- ``handler`` also acts on reports, sites, notices and mail;
- ``admin`` also manages users, API tokens, organisations' overrides and settings,
  and reaches the Django admin.

A role is membership of the Django group of the same name (the groups are
created by a migration); a superuser is always an admin, and an active account
in no role group is a viewer.  API tokens carry their owner's role, read at each
request, so changing a user's role changes what their tokens may do at once
(a token may be capped lower, never higher).

Every view says the role it needs with :func:`role_required`; every API
operation with the auth objects from :func:`api_auth`.  A test walks the URL
conf and the API's operations and fails for any that does not.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    VIEWER = "viewer", _("viewer")
    HANDLER = "handler", _("handler")
    ADMIN = "admin", _("admin")

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may."""
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.HANDLER: 1, Role.ADMIN: 2}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLE_CACHE = "_takedown_role"


def user_role(user: Any) -> Role | None:
    """The user's role; None for anonymous and inactive accounts."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "is_active", False):
        return None
    cached = getattr(user, ROLE_CACHE, None)
    if cached is not None:
        return cast(Role, cached)
    if getattr(user, "is_superuser", False):
        role = Role.ADMIN
    else:
        names = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        role = max((Role(n) for n in names), key=lambda r: r.rank, default=Role.VIEWER)
    setattr(user, ROLE_CACHE, role)
    return role


def has_role(user: Any, role: Role) -> bool:
    current = user_role(user)
    return current is not None and current.includes(role)


def role_of(user: Any, cap: str = "") -> Role | None:
    """The user's role, lowered to ``cap`` (a token's limit) when one is set."""
    role = user_role(user)
    if role is None or not cap:
        return role
    capped = Role(cap)
    return capped if role.includes(capped) else role


V = TypeVar("V", bound=Callable[..., HttpResponseBase])


def role_required(role: Role, *, write: Role | None = None) -> Callable[[V], V]:
    """Decorate a view: anonymous users go to login, others need ``role``.

    ``write``, when given, is the role needed for unsafe methods (POST ...)
    of a view that both shows (to ``role``) and changes something.  The view
    gets ``required_role`` and ``required_write_role`` attributes, which the
    URL conf test reads.
    """
    write_role = write or role

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            needed = role if request.method in SAFE_METHODS else write_role
            if not has_role(request.user, needed):
                raise PermissionDenied(_("This needs the %(role)s role.") % {"role": needed.label})
            return view(request, *args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        wrapped.required_write_role = write_role  # type: ignore[attr-defined]
        return cast(V, wrapped)

    return decorator


def request_actor(request: HttpRequest) -> str:
    """The name written as ``actor`` on the timeline for what this request does."""
    return request.user.get_username() if request.user.is_authenticated else "anonymous"


class RoleBackend(ModelBackend):
    """Admins hold every model permission (the Django admin checks them)."""

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if user_role(user_obj) is Role.ADMIN:
            return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        if user_role(user_obj) is Role.ADMIN:
            return True
        return super().has_module_perms(user_obj, app_label)


def role_context(request: HttpRequest) -> dict[str, Any]:
    """Template context: ``user_role``, ``can_act`` (handler or admin), ``can_admin``."""
    role = user_role(getattr(request, "user", None))
    return {
        "user_role": role,
        "can_act": role is not None and role.includes(Role.HANDLER),
        "can_admin": role is Role.ADMIN,
    }
