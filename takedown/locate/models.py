"""The directory of responsible parties and what the registries said about them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OrgKind(models.TextChoices):
    ISP = "isp", _("ISP / xSP")
    COMPANY = "company", _("company")
    SCHOOL = "school", _("school")
    OVERSEAS = "overseas", _("overseas organisation")
    OTHER = "other", _("other")


class Organization(models.Model):
    """A responsible party: the holder of an IP network, a registrar, a CDN, a CSIRT."""

    name = models.CharField(max_length=300)
    handle = models.CharField(max_length=100, blank=True, db_index=True)
    registry = models.CharField(max_length=16, blank=True)
    country = models.CharField(max_length=2, blank=True)
    kind = models.CharField(max_length=10, choices=OrgKind.choices, default=OrgKind.OTHER)
    language = models.CharField(max_length=8, default="en", choices=settings.LANGUAGES)
    abuse_emails: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def domestic(self) -> bool | None:
        if not self.country:
            return None
        return self.country.upper() == settings.HOME_COUNTRY
