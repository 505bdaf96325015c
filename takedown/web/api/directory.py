"""Reporters and incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from takedown.cases.models import Incident, Site
from takedown.cases.services import incident_create, incident_merge
from takedown.intake.models import Reporter, ReporterKind
from takedown.intake.services import ReportError, reporter_classify
from takedown.web.api.auth import ACT, READ, api_actor
from takedown.web.api.common import ErrorOut, Id, Limit, Offset, Page, Text, page_of

reporters = Router(tags=["reporters"])
incidents = Router(tags=["incidents"])


class ReporterOut(Schema):
    id: int
    name: str
    email: str
    type: str
    country: str
    domestic: bool | None
    language: str
    notify_ack: bool
    notify_closed: bool
    classified: bool
    reports: int
    created: datetime


def reporter_out(r: Reporter) -> dict[str, Any]:
    return {
        "id": r.pk,
        "name": r.name,
        "email": r.email,
        "type": r.kind,
        "country": r.country,
        "domestic": r.domestic,
        "language": r.language,
        "notify_ack": r.notify_ack,
        "notify_closed": r.notify_closed,
        "classified": r.classified,
        "reports": getattr(r, "n_reports", 0),
        "created": r.created,
    }


class ReporterFilters(Schema):
    q: Text = ""
    type: ReporterKind | None = None
    country: Text = ""
    classified: bool | None = Field(None, description="false: those still to classify")


def _reporters() -> Any:
    return Reporter.objects.annotate(n_reports=Count("reports", distinct=True))


@reporters.get("", response=Page[ReporterOut], auth=READ)
def list_reporters(
    request: HttpRequest, f: Query[ReporterFilters], limit: Limit = 100, offset: Offset = 0
) -> Any:
    """The reporters' directory by name; ``q`` matches the name or the e-mail address."""
    qs = _reporters().order_by("name", "id")
    if f.q.strip():
        qs = qs.filter(Q(name__icontains=f.q.strip()) | Q(email__icontains=f.q.strip()))
    if f.type:
        qs = qs.filter(kind=f.type)
    if f.country.strip():
        qs = qs.filter(country__iexact=f.country.strip())
    if f.classified is not None:
        qs = qs.filter(classified=f.classified)
    return page_of(qs, limit=limit, offset=offset, out=reporter_out)


@reporters.get("/{reporter_id}", response=ReporterOut, auth=READ)
def get_reporter(request: HttpRequest, reporter_id: Id) -> Any:
    return reporter_out(get_object_or_404(_reporters(), pk=reporter_id))


class ClassifyIn(Schema):
    """Who the reporter is; what to send them.  Their earlier reports count anew."""

    type: ReporterKind
    country: Text = Field("", max_length=2, description="ISO 3166 code; empty: unknown")
    language: Text = Field("", description="ja or en; empty keeps the reporter's")
    notify_ack: bool = True
    notify_closed: bool = True


@reporters.post("/{reporter_id}/classify", response={200: ReporterOut, 400: ErrorOut}, auth=ACT)
def classify_reporter(request: HttpRequest, reporter_id: Id, payload: ClassifyIn) -> Any:
    """Classify a reporter (one the queue lists as unknown, or correct one)."""
    reporter = get_object_or_404(Reporter, pk=reporter_id)
    try:
        reporter_classify(
            reporter=reporter,
            actor=api_actor(request),
            kind=payload.type,
            country=payload.country,
            language=payload.language,
            notify_ack=payload.notify_ack,
            notify_closed=payload.notify_closed,
        )
    except ReportError as exc:
        raise HttpError(400, str(exc)) from None
    return reporter_out(get_object_or_404(_reporters(), pk=reporter.pk))


class IncidentOut(Schema):
    id: int
    title: str
    created: datetime
    site_ids: list[int]
    merged_into_id: int | None


def incident_out(i: Incident) -> dict[str, Any]:
    return {
        "id": i.pk,
        "title": i.title,
        "created": i.created,
        "site_ids": sorted(s.pk for s in i.sites.all()),
        "merged_into_id": i.merged_into_id,
    }


@incidents.get("", response=Page[IncidentOut], auth=READ)
def list_incidents(
    request: HttpRequest,
    q: Text = "",
    site: Id | None = None,
    merged: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    """Incidents newest first; ``q`` matches the title, ``site`` those holding a site;
    those merged into another are left out unless ``merged``."""
    qs = Incident.objects.prefetch_related("sites").order_by("-created", "-id")
    if not merged:
        qs = qs.filter(merged_into=None)
    if q.strip():
        qs = qs.filter(title__icontains=q.strip())
    if site is not None:
        qs = qs.filter(sites__pk=site).distinct()
    return page_of(qs, limit=limit, offset=offset, out=incident_out)


@incidents.get("/{incident_id}", response=IncidentOut, auth=READ)
def get_incident(request: HttpRequest, incident_id: Id) -> Any:
    return incident_out(
        get_object_or_404(Incident.objects.prefetch_related("sites"), pk=incident_id)
    )


class IncidentIn(Schema):
    title: str
    site_ids: list[Id] = []


@incidents.post("", response={201: IncidentOut}, auth=ACT)
def create_incident(request: HttpRequest, payload: IncidentIn) -> Any:
    """Group sites handled together (a campaign, a bulk report)."""
    title = payload.title.strip()
    if not title:
        raise HttpError(400, "a title is needed")
    ids = set(payload.site_ids)
    sites = list(Site.objects.filter(pk__in=ids))
    if len(sites) != len(ids):
        missing = sorted(ids - {s.pk for s in sites})[:20]
        raise HttpError(400, f"no such sites: {missing}")
    incident = incident_create(title=title, sites=sites, actor=api_actor(request))
    return Status(201, incident_out(incident))


class MergeIn(Schema):
    into: Id


@incidents.post(
    "/{incident_id}/merge", response={200: IncidentOut, 400: ErrorOut, 409: ErrorOut}, auth=ACT
)
def merge_incident(request: HttpRequest, incident_id: Id, payload: MergeIn) -> Any:
    """Merge this incident into ``into``: its sites move there; answers the incident merged into."""
    source = get_object_or_404(Incident, pk=incident_id)
    target = Incident.objects.filter(pk=payload.into).first()
    if target is None:
        raise HttpError(400, "no such incident to merge into")
    incident_merge(source=source, target=target, actor=api_actor(request))
    return incident_out(Incident.objects.prefetch_related("sites").get(pk=target.pk))
