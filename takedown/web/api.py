"""The JSON API (django-ninja); OpenAPI at /api/docs and /api/openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from ninja.security import HttpBearer

from takedown.cases.models import Site, SiteState
from takedown.intake.models import TLP, Purpose, ReporterKind
from takedown.intake.services import ReporterInfo, ReportError, report_receive
from takedown.web.models import ApiToken, hash_token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        obj = ApiToken.objects.select_related("user").filter(token_hash=hash_token(token)).first()
        if obj is None or not obj.user.is_active:
            return None
        ApiToken.objects.filter(pk=obj.pk).update(last_used=timezone.now())
        request.user = obj.user
        return obj.user


api = NinjaAPI(title="Takedown API", version="1", auth=TokenAuth(), urls_namespace="api")


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


class SiteOut(Schema):
    id: int
    url: str
    defanged: str
    host: str
    registered_domain: str
    state: str
    kind: str
    brand: str
    ip: str | None
    organization: str | None
    first_reported: datetime
    state_changed: datetime


class ReportOut(Schema):
    report: int
    token: str
    sites: list[SiteOut]
    new_sites: int
    errors: list[str]


class ErrorOut(Schema):
    detail: str
    report: int | None = None


def site_out(site: Site) -> dict[str, Any]:
    return {
        "id": site.pk,
        "url": site.url,
        "defanged": site.defanged_url,
        "host": site.host,
        "registered_domain": site.registered_domain,
        "state": site.state,
        "kind": site.kind,
        "brand": site.brand,
        "ip": site.ip,
        "organization": site.organization.name if site.organization else None,
        "first_reported": site.first_reported,
        "state_changed": site.state_changed,
    }


@api.post("/reports", response={201: ReportOut, 400: ErrorOut, 413: ErrorOut})
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
            actor=f"api:{request.user}",
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


@api.get("/sites", response=list[SiteOut])
def list_sites(
    request: HttpRequest, state: str | None = None, limit: int = 100, offset: int = 0
) -> Any:
    if state is not None and state not in SiteState.values:
        raise HttpError(400, f"unknown state {state!r}")
    qs = Site.objects.select_related("organization").order_by("pk")
    if state:
        qs = qs.filter(state=state)
    limit = max(1, min(limit, 1000))
    return [site_out(s) for s in qs[offset : offset + limit]]


@api.get("/sites/{site_id}", response=SiteOut)
def get_site(request: HttpRequest, site_id: int) -> Any:
    return site_out(get_object_or_404(Site.objects.select_related("organization"), pk=site_id))
