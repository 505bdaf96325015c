"""The one write path for accounts and API tokens; each change is on the timeline.

Events carry no site: their ``data`` names the user (and token) concerned, so
the audit page can find them (``docs/access.md``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from takedown.access.roles import ROLE_CACHE, Role, user_role
from takedown.cases.models import EventKind
from takedown.cases.services import event_record
from takedown.web.models import ApiToken


class AccountError(ValueError):
    """A request the account rules refuse; the message says why."""


def user_create(
    *, username: str, role: Role, actor: str, email: str = "", password: str | None = None
) -> Any:
    """A new active account in ``role``; without a password it cannot log in (tokens only)."""
    users = get_user_model()
    username = username.strip()
    if not username:
        raise AccountError(_("a user name is needed"))
    with transaction.atomic():
        if users.objects.filter(username=username).exists():
            raise AccountError(_("user %(name)r exists") % {"name": username})
        user = users.objects.create_user(username, email, password)
        event_record(
            kind=EventKind.USER_CREATED,
            actor=actor,
            data={"user": username, "role": role.value},
        )
        user_role_set(user=user, role=role, actor=actor)
    return user


def user_role_set(*, user: Any, role: Role, actor: str) -> bool:
    """Give ``user`` exactly ``role``; False when it already had it.

    Superusers are admins whatever their groups say, so their role is not
    changed here (``takedown changepassword``/``createsuperuser`` manage them).
    """
    if getattr(user, "is_superuser", False):
        raise ValueError("a superuser is always an admin")
    with transaction.atomic():
        groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}
        for name in Role.values:
            if name not in groups:
                groups[name] = Group.objects.create(name=name)
        before = user_role(user)
        current = set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        if current == {role.value}:
            return False
        user.groups.remove(*[groups[n] for n in current if n != role.value])
        user.groups.add(groups[role.value])
        if hasattr(user, ROLE_CACHE):
            delattr(user, ROLE_CACHE)
        event_record(
            kind=EventKind.USER_ROLE,
            actor=actor,
            data={
                "user": user.get_username(),
                "from": before.value if before else "",
                "to": role.value,
            },
        )
    return True


def user_set_active(*, user: Any, active: bool, actor: str) -> bool:
    """Let an account in or keep it out (its tokens stop working too); False if unchanged."""
    if user.is_active == active:
        return False
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        event_record(
            kind=EventKind.USER_ACTIVATED if active else EventKind.USER_DEACTIVATED,
            actor=actor,
            data={"user": user.get_username()},
        )
    return True


def user_set_password(*, user: Any, password: str, actor: str) -> None:
    """A new password, set by an admin; it also lifts a login lockout of that user name."""
    from axes.utils import reset

    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        event_record(kind=EventKind.USER_PASSWORD, actor=actor, data={"user": user.get_username()})
    reset(username=user.get_username())


def token_issue(*, user: Any, name: str, actor: str, limit: str = "") -> tuple[ApiToken, str]:
    """A new token for ``user``; the secret is returned once and never stored."""
    if limit and limit not in Role.values:
        raise AccountError(_("unknown role %(role)r") % {"role": limit})
    with transaction.atomic():
        obj, secret = ApiToken.issue(user=user, name=name.strip() or "token", role=limit)
        event_record(
            kind=EventKind.TOKEN_CREATED,
            actor=actor,
            data={
                "user": user.get_username(),
                "token": obj.prefix,
                "name": obj.name,
                "limit": limit,
            },
        )
    return obj, secret


def token_revoke(*, token: ApiToken, actor: str) -> bool:
    """Stop a token from working; False if it was revoked already."""
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(
            revoked=timezone.now()
        )
        if not updated:
            return False
        event_record(
            kind=EventKind.TOKEN_REVOKED,
            actor=actor,
            data={"user": token.user.get_username(), "token": token.prefix, "name": token.name},
        )
    token.refresh_from_db()
    return True
