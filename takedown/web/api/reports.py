"""Reports: take one (text or URLs), read them back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status

from takedown.cases.models import Site
from takedown.intake.models import TLP, Channel, Purpose, Report, ReporterKind
from takedown.intake.services import ReporterInfo, ReportError, report_receive
from takedown.web.api.auth import ACT, READ, api_actor
from takedown.web.api.common import Id, Limit, Offset, Page, page_of
from takedown.web.api.sites import SiteOut, sites_out

router = Router(tags=["reports"])


class ReporterIn(Schema):
    name: str = ""
    email: str = ""
    type: ReporterKind = ReporterKind.OTHER
    country: str = ""
    language: str = ""


class ReportIn(Schema):
    text: str | None = None
    urls: list[str] | None = None
    reporter: ReporterIn = ReporterIn()
    purpose: Purpose = Purpose.REQUEST
    tlp: TLP = TLP.AMBER
    kind: str = ""
    brand: str = ""
    subject: str = ""


class ReportOut(Schema):
    report: int
    token: str
    sites: list[SiteOut]
    new_sites: int
    errors: list[str]


class ReportErrorOut(Schema):
    detail: str
    report: int | None = None


@router.post("", response={201: ReportOut, 400: ReportErrorOut, 413: ReportErrorOut}, auth=ACT)
def create_report(request: HttpRequest, payload: ReportIn) -> Any:
    """Report URLs (``urls``, each must be valid) or free text to extract them from (``text``)."""
    if (payload.text is None) == (payload.urls is None):
        return Status(400, {"detail": _("give exactly one of 'text' or 'urls'")})
    r = payload.reporter
    try:
        result = report_receive(
            channel="api",
            text=payload.text or "",
            urls=payload.urls,
            reporter=ReporterInfo(
                name=r.name, email=r.email, kind=r.type, country=r.country, language=r.language
            ),
            purpose=payload.purpose,
            tlp=payload.tlp,
            kind=payload.kind,
            brand=payload.brand,
            subject=payload.subject,
            actor=api_actor(request),
            created_by=request.user,
        )
    except ReportError as exc:
        status = 413 if exc.too_large else 400
        return Status(status, {"detail": str(exc), "report": exc.report.pk if exc.report else None})
    return Status(
        201,
        {
            "report": result.report.pk,
            "token": result.report.token,
            "sites": sites_out(result.sites),
            "new_sites": len(result.new_sites),
            "errors": result.errors,
        },
    )


class ReportDetailOut(Schema):
    id: int
    token: str
    received: datetime
    channel: str
    purpose: str
    tlp: str
    status: str
    subject: str
    errors: list[Any]
    # Where in a mailed report each URL was found, first place first:
    # {"https://a.example/": [{"kind": "qr", "name": "invoice.pdf", "page": 1}]}.
    url_sources: dict[str, list[dict[str, Any]]]
    reporter_id: int | None
    incident_id: int | None
    site_ids: list[int]


def _reports() -> QuerySet[Report]:
    return Report.objects.defer("raw_bytes", "raw_text").prefetch_related(
        Prefetch("sites", queryset=Site.objects.only("pk"))
    )


class ReportFilters(Schema):
    site: Id | None = None
    reporter: Id | None = None
    channel: Channel | None = None
    incident: Id | None = None


@router.get("", response=Page[ReportDetailOut], auth=READ)
def list_reports(
    request: HttpRequest, f: Query[ReportFilters], limit: Limit = 100, offset: Offset = 0
) -> Any:
    """Reports newest first: a site's, a reporter's, an incident's."""
    qs = _reports()
    if f.site is not None:
        qs = qs.filter(sites__pk=f.site).distinct()
    if f.reporter is not None:
        qs = qs.filter(reporter_id=f.reporter)
    if f.channel is not None:
        qs = qs.filter(channel=f.channel)
    if f.incident is not None:
        qs = qs.filter(incident_id=f.incident)
    return page_of(qs.order_by("-received", "-id"), limit=limit, offset=offset, out=report_out)


@router.get("/{report_id}", response=ReportDetailOut, auth=READ)
def get_report(request: HttpRequest, report_id: Id) -> Any:
    """One report as stored (its raw content is a download in the UI)."""
    return report_out(get_object_or_404(_reports(), pk=report_id))


def _url_sources(report: Report) -> dict[str, list[dict[str, Any]]]:
    """The stored sources, keeping only the shape intake writes (an imported row may differ)."""
    sources = report.url_sources if isinstance(report.url_sources, dict) else {}
    return {
        str(url): [s for s in found if isinstance(s, dict)]
        for url, found in sources.items()
        if isinstance(found, list)
    }


def report_out(report: Report) -> dict[str, Any]:
    return {
        "id": report.pk,
        "token": report.token,
        "received": report.received,
        "channel": report.channel,
        "purpose": report.purpose,
        "tlp": report.tlp,
        "status": report.status,
        "subject": report.subject,
        "errors": list(report.errors or []),
        "url_sources": _url_sources(report),
        "reporter_id": report.reporter_id,
        "incident_id": report.incident_id,
        "site_ids": sorted(s.pk for s in report.sites.all()),
    }
