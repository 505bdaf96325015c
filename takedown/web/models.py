"""API tokens for the JSON API."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from takedown.access.roles import Role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token; only its hash is stored, the token is shown once.

    It acts with its owner's role, lowered to ``role`` when that is set (a
    read-only token for a script, say).  Revoking keeps the row, so the audit
    trail can still name it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("prefix"), max_length=8)
    role = models.CharField(
        _("role limit"),
        max_length=16,
        blank=True,
        choices=Role.choices,
        help_text=_("Empty: the owner's role."),
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked is None

    @classmethod
    def issue(cls, *, user: object, name: str, role: str = "") -> tuple[ApiToken, str]:
        token = "tkd_" + secrets.token_urlsafe(32)
        obj = cls.objects.create(
            user=user, name=name, role=role, token_hash=hash_token(token), prefix=token[:8]
        )
        return obj, token
