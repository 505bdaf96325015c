"""Organisations: the directory of responsible parties; admins' corrections."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from takedown.locate.models import EDITABLE_FIELDS, Organization, OrgKind, OrgRole
from takedown.locate.services import (
    OrganizationEditError,
    organization_edit,
    organization_reset,
)
from takedown.stats.selectors import stats_as_json, stats_get
from takedown.web.api.auth import ADMIN, READ, api_actor
from takedown.web.api.common import Asn, ErrorOut, Id, Limit, Offset, Page, Text, page_of

router = Router(tags=["organizations"])


class OrganizationOut(Schema):
    id: int
    name: str
    name_local: str
    handle: str
    registry: str
    role: str
    kind: str
    kind_reason: str
    country: str
    domestic: bool | None
    language: str
    asn: int | None
    abuse_emails: list[str]
    contact_emails: list[str]
    overridden: list[str]
    sites: int
    updated: datetime


class OrganizationDetailOut(OrganizationOut):
    overrides: dict[str, Any]
    registry_data: dict[str, Any]
    source: str


def organization_out(o: Organization) -> dict[str, Any]:
    return {
        "id": o.pk,
        "name": o.name,
        "name_local": o.name_local,
        "handle": o.handle,
        "registry": o.registry,
        "role": o.role,
        "kind": o.kind,
        "kind_reason": o.kind_reason,
        "country": o.country,
        "domestic": o.domestic,
        "language": o.language,
        "asn": o.asn,
        "abuse_emails": [str(a) for a in o.abuse_emails or []],
        "contact_emails": [str(a) for a in o.contact_emails or []],
        "overridden": sorted(o.overrides or {}),
        "sites": getattr(o, "n_sites", None) if hasattr(o, "n_sites") else o.sites.count(),
        "updated": o.updated,
    }


def _detail(o: Organization) -> dict[str, Any]:
    return {
        **organization_out(o),
        "overrides": o.overrides if isinstance(o.overrides, dict) else {},
        "registry_data": o.registry_data if isinstance(o.registry_data, dict) else {},
        "source": o.source,
    }


class OrganizationFilters(Schema):
    q: Text = ""
    kind: OrgKind | None = None
    role: OrgRole | None = None
    country: Text = ""
    asn: Asn | None = None


@router.get("", response=Page[OrganizationOut], auth=READ)
def list_organizations(
    request: HttpRequest, f: Query[OrganizationFilters], limit: Limit = 100, offset: Offset = 0
) -> Any:
    """Organisations by name; ``q`` matches the name (either script) or the handle."""
    qs = Organization.objects.annotate(n_sites=Count("sites", distinct=True)).order_by("name", "id")
    if f.q.strip():
        q = f.q.strip()
        qs = qs.filter(Q(name__icontains=q) | Q(name_local__icontains=q) | Q(handle__iexact=q))
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.role:
        qs = qs.filter(role=f.role)
    if f.country.strip():
        qs = qs.filter(country__iexact=f.country.strip())
    if f.asn is not None:
        qs = qs.filter(asn=f.asn)
    return page_of(qs, limit=limit, offset=offset, out=organization_out)


@router.get("/{org_id}", response=OrganizationDetailOut, auth=READ)
def get_organization(request: HttpRequest, org_id: Id) -> Any:
    """One organisation with the registry's values beside the handlers' overrides."""
    return _detail(get_object_or_404(Organization, pk=org_id))


class ClosureOut(Schema):
    """The seed's per-organisation row (``GET /api/stats`` ``organizations``) for this one."""

    org: str
    replies: str = Field(description="how often they reply, as the seed's table says it")
    reply_rate: float | None
    closure_hours: dict[str, float | None]
    closure_business_days: dict[str, float | None]
    sites_per_month: float | None
    closure_rate: float | None
    notices: int
    sites: int
    closed: int
    replied: int


class FiscalYear(Schema):
    fy: int | None = Field(None, ge=2000, le=2100, description="fiscal year (April-March)")


@router.get("/{org_id}/stats", response={200: ClosureOut, 404: ErrorOut}, auth=READ)
def organization_stats(request: HttpRequest, org_id: Id, q: Query[FiscalYear]) -> Any:
    """Replies, time to closure (average, shortest, longest), reports a month and the
    closure rate of this organisation, as on its page; 404 while it has no notice."""
    org = get_object_or_404(Organization, pk=org_id)
    stats = stats_get(fy=q.fy)
    rows = [row for row in stats.organizations if row.org_id == org.pk]
    if not rows:
        raise HttpError(404, "no notice to this organisation in the period")
    return stats_as_json(replace(stats, organizations=rows))["organizations"][0]


class OrganizationEditIn(Schema):
    """Only the fields given change; each is pinned against registry updates."""

    name: str | None = None
    kind: OrgKind | None = None
    language: str | None = None
    country: str | None = None
    abuse_emails: list[str] | None = None
    note: str = ""


@router.patch("/{org_id}", response=OrganizationDetailOut, auth=ADMIN)
def edit_organization(request: HttpRequest, org_id: Id, payload: OrganizationEditIn) -> Any:
    """Correct an organisation (admins): the same service as its page in the UI."""
    org = get_object_or_404(Organization, pk=org_id)
    changes = {
        name: value
        for name, value in payload.dict(exclude_unset=True).items()
        if name in EDITABLE_FIELDS and value is not None
    }
    try:
        organization_edit(org, actor=api_actor(request), changes=changes, note=payload.note)
    except OrganizationEditError as exc:
        raise HttpError(400, str(exc)) from None
    return _detail(Organization.objects.get(pk=org.pk))


class ResetIn(Schema):
    fields: list[str]


@router.post("/{org_id}/reset", response=OrganizationDetailOut, auth=ADMIN)
def reset_organization(request: HttpRequest, org_id: Id, payload: ResetIn) -> Any:
    """Drop overrides: the registry's values apply again for the ``fields`` named."""
    org = get_object_or_404(Organization, pk=org_id)
    unknown = [f for f in payload.fields if f not in EDITABLE_FIELDS]
    if unknown:
        raise HttpError(400, f"not an editable field: {', '.join(unknown)[:200]}")
    organization_reset(org, actor=api_actor(request), fields=payload.fields)
    return _detail(Organization.objects.get(pk=org.pk))
