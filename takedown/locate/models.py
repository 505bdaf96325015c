"""The directory of responsible parties and what the registries said about them.

- ``Organization``: a responsible party (a network holder, a registrar, a CDN),
  built from registry data and editable by handlers; a handler's edit is kept in
  ``overrides`` and wins over registry data, also after the registry is asked
  again.
- ``Network``: a registry's network/allocation record, cached per network (not
  per URL) until ``expires`` (``settings.REGISTRY_CACHE_TTL``).
- ``DomainRecord``: a registered domain's registrar and name servers, cached too.
- ``Resolution``: what DNS said about a host, and when.
- ``Location``: the result of locating one site (the latest is current).
"""

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


class OrgRole(models.TextChoices):
    NETWORK = "network", _("network holder")
    REGISTRAR = "registrar", _("registrar")
    CDN = "cdn", _("CDN / proxy")


# Fields a handler may set; a set field is pinned against registry updates.
EDITABLE_FIELDS = ("name", "kind", "language", "abuse_emails", "country")


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

    # What locate adds.
    role = models.CharField(max_length=10, choices=OrgRole.choices, default=OrgRole.NETWORK)
    name_local = models.CharField(max_length=300, blank=True)
    asn = models.PositiveBigIntegerField(null=True, blank=True)
    # Other published addresses (technical, administrative): used only when the
    # registry names no abuse address, and shown as such.
    contact_emails: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    kind_reason = models.CharField(max_length=200, blank=True)
    # field -> value set by a handler; these win over registry data
    overrides: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    # the registry's latest values for the same fields, for display and reapplying
    registry_data: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=500, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["registry", "handle"])]

    def __str__(self) -> str:
        return self.name

    @property
    def domestic(self) -> bool | None:
        if not self.country:
            return None
        return self.country.upper() == settings.HOME_COUNTRY

    def is_overridden(self, field: str) -> bool:
        return field in (self.overrides or {})

    @property
    def notify_addresses(self) -> list[str]:
        """Where a notice goes: the abuse addresses, else the published contacts."""
        return list(self.abuse_emails or self.contact_emails or [])

    @property
    def uses_fallback_contacts(self) -> bool:
        return not self.abuse_emails and bool(self.contact_emails)


class Network(models.Model):
    """One registry network/allocation record, cached for ``REGISTRY_CACHE_TTL``.

    ``start``/``end`` are the first and last address as fixed-width hex (8
    digits for IPv4, 32 for IPv6), so "which cached network holds this
    address" is an indexed range query on any database.
    """

    version = models.PositiveSmallIntegerField()
    start = models.CharField(max_length=32)
    end = models.CharField(max_length=32)
    prefix = models.CharField(max_length=100)
    cidrs: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    registry = models.CharField(max_length=16, blank=True)
    handle = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, blank=True)
    asn = models.PositiveBigIntegerField(null=True, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="networks"
    )
    abuse_emails: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    contact_emails: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    sources: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    errors: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    # everything the locator learnt (org name, kind hints, NIR...), as JSON
    data: models.JSONField[Any] = models.JSONField(default=dict, blank=True)
    fetched = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["version", "start", "end"])]

    def __str__(self) -> str:
        return f"{self.prefix} {self.name}".strip()

    @property
    def is_fresh(self) -> bool:
        return self.expires > timezone.now()


class DomainRecord(models.Model):
    """A registered domain's registrar, its abuse contact and the name servers."""

    domain = models.CharField(max_length=255, unique=True)
    registrar = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="domains"
    )
    registrar_name = models.CharField(max_length=300, blank=True)
    registrar_abuse: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    nameservers: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    sources: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    errors: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    fetched = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.domain


class Resolution(models.Model):
    """What DNS answered for a host at a time: "which IP did it have when reported"."""

    host = models.CharField(max_length=255)
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16)
    addresses: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    cnames: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)
    site = models.ForeignKey(
        "cases.Site", null=True, blank=True, on_delete=models.CASCADE, related_name="resolutions"
    )

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["host", "at"])]

    def __str__(self) -> str:
        return f"{self.host} {self.outcome} {', '.join(self.addresses[:3])}"


class Location(models.Model):
    """Where one site was found to be, and who is responsible; the latest is current."""

    site = models.ForeignKey("cases.Site", on_delete=models.CASCADE, related_name="locations")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16)  # located | unresolvable
    reason = models.CharField(max_length=300, blank=True)
    host = models.CharField(max_length=255)
    ip = models.GenericIPAddressField(null=True, blank=True)
    ips: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    asn = models.PositiveBigIntegerField(null=True, blank=True)
    prefix = models.CharField(max_length=100, blank=True)
    registry = models.CharField(max_length=16, blank=True)
    network = models.ForeignKey(
        Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="locations"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="locations"
    )
    registrar = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registrar_locations",
    )
    cdn = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="cdn_locations"
    )
    abuse: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    sources: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    errors: models.JSONField[Any] = models.JSONField(default=list, blank=True)
    # the same JSON as ``takedown locate --json``
    data: models.JSONField[Any] = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        get_latest_by = ["at", "id"]
        indexes = [models.Index(fields=["site", "at"])]

    def __str__(self) -> str:
        return f"{self.host} {self.outcome} {self.ip or ''}"
