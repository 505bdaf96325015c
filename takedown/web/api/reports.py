"""Reports: take one (text or URLs), read one back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.responses import Status

from takedown.intake.models import TLP, Purpose, Report, ReporterKind
from takedown.intake.services import ReporterInfo, ReportError, report_receive
from takedown.web.api.auth import ACT, READ, api_actor
from takedown.web.api.common import Id
from takedown.web.api.sites import SiteOut, site_out

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
        return Status(400, {"detail": "give exactly one of 'text' or 'urls'"})
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
        status = 413 if "more than the limit" in str(exc) else 400
        return Status(status, {"detail": str(exc), "report": exc.report.pk if exc.report else None})
    return Status(
        201,
        {
            "report": result.report.pk,
            "token": result.report.token,
            "sites": [site_out(s) for s in result.sites],
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
    reporter_id: int | None
    incident_id: int | None
    site_ids: list[int]


@router.get("/{report_id}", response=ReportDetailOut, auth=READ)
def get_report(request: HttpRequest, report_id: Id) -> Any:
    """One report as stored (its raw content is a download in the UI)."""
    report = get_object_or_404(Report.objects.defer("raw_bytes", "raw_text"), pk=report_id)
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
        "reporter_id": report.reporter_id,
        "incident_id": report.incident_id,
        "site_ids": sorted(report.sites.values_list("pk", flat=True)),
    }
