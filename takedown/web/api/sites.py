"""Sites: the list with filters, search and a total; one site, its timeline, checks,
evidence; marking a revival or recurrence reviewed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from takedown.cases.models import Event, Site, SiteKind, SiteState
from takedown.cases.selectors import BadFilter, site_filter_parse, site_search
from takedown.cases.services import site_mark_reviewed
from takedown.monitor.models import Check, Evidence
from takedown.web.api.auth import ACT, READ, api_actor
from takedown.web.api.common import Asn, ErrorOut, Id, Limit, Moment, Offset, Page, Text, page_of

router = Router(tags=["sites"])


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
    organization_id: int | None
    historical: bool
    first_reported: datetime
    state_changed: datetime
    assignee: str | None
    recurrence_of_id: int | None
    next_check: datetime | None
    incident_ids: list[int]


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
        "organization_id": site.organization_id,
        "historical": site.historical,
        "first_reported": site.first_reported,
        "state_changed": site.state_changed,
        "assignee": site.assignee.get_username() if site.assignee else None,
        "recurrence_of_id": site.recurrence_of_id,
        "next_check": site.next_check,
        # The reverse of Incident.sites, which django-stubs does not see from here.
        "incident_ids": sorted(i.pk for i in site.incidents.all()),  # type: ignore[attr-defined]
    }


def _with_related(qs: QuerySet[Site]) -> QuerySet[Site]:
    """What ``site_out`` reads, in three queries a page rather than three a site."""
    return qs.select_related("organization", "assignee").prefetch_related("incidents")


def sites_out(sites: list[Site]) -> list[dict[str, Any]]:
    """``site_out`` of each of ``sites``, in their order, read again in a few queries."""
    fresh = {s.pk: s for s in _with_related(Site.objects.filter(pk__in=[s.pk for s in sites]))}
    return [site_out(fresh[s.pk]) for s in sites if s.pk in fresh]


class SiteOrder(StrEnum):
    ID = "id"
    ID_DESC = "-id"
    REPORTED = "first_reported"
    REPORTED_DESC = "-first_reported"
    CHANGED = "state_changed"
    CHANGED_DESC = "-state_changed"


class SiteFilters(Schema):
    """The sites page's criteria (``cases.selectors.site_filter_parse``), by API names."""

    q: Text = Field(
        "",
        description="what a handler pastes: a URL (defanged or wrapped too), IP or prefix, "
        "AS number (AS64500), host name, or words (brand, URL, organisation, reporter)",
    )
    url: Text = ""
    state: list[SiteState] = []
    kind: SiteKind | None = None
    host: Text = Field("", description="the host or any host under it")
    registered_domain: Text = ""
    ip: Text = Field("", description="an address or a prefix; earlier locations count")
    asn: Asn | None = None
    brand: Text = ""
    organization: Id | None = None
    org: Text = Field("", description="part of the organisation's name")
    reporter: Id | None = None
    assignee: Text = Field("", description="a user name, or - for nobody")
    incident: Id | None = None
    reported_after: Moment | None = None
    reported_before: Moment | None = None
    historical: bool = Field(False, description="true: only imported history")
    order: SiteOrder = SiteOrder.ID


def sites_filter(f: SiteFilters) -> QuerySet[Site]:
    """The sites page's search (``site_search``), then what only the API has.

    A value the search cannot understand (a bad IP or prefix) is a 400 with
    its reason, as on the page.
    """
    params: dict[str, Any] = {
        "q": f.q,
        "url": f.url,
        "state": [str(s) for s in f.state],
        "host": f.host,
        "domain": f.registered_domain,
        "ip": f.ip,
        "asn": "" if f.asn is None else str(f.asn),
        "brand": f.brand,
        "org": str(f.organization) if f.organization is not None else f.org,
        "reporter": "" if f.reporter is None else str(f.reporter),
        "assignee": f.assignee,
        "incident": "" if f.incident is None else str(f.incident),
        "historical": "1" if f.historical else "",
    }
    try:
        filters = site_filter_parse(params)
    except BadFilter as exc:
        raise HttpError(400, str(exc)) from None
    qs = site_search(filters=filters)
    if f.historical:
        qs = qs.filter(historical=True)
    if f.organization is not None and f.org.strip():
        qs = qs.filter(organization__name__icontains=f.org.strip())
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.reported_after:
        qs = qs.filter(first_reported__gte=f.reported_after)
    if f.reported_before:
        qs = qs.filter(first_reported__lt=f.reported_before)
    # Ties broken by id, so that paging with offsets never skips or repeats a site.
    desc = f.order.value.startswith("-")
    return qs.order_by(f.order.value, "-id" if desc else "id")


@router.get("", response=Page[SiteOut], auth=READ)
def list_sites(
    request: HttpRequest,
    filters: Query[SiteFilters],
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    """Sites matching every filter given, in ``order`` (by id unless told).

    ``count`` is the total over all pages.
    """
    return page_of(_with_related(sites_filter(filters)), limit=limit, offset=offset, out=site_out)


@router.get("/{site_id}", response=SiteOut, auth=READ)
def get_site(request: HttpRequest, site_id: Id) -> Any:
    return site_out(get_object_or_404(_with_related(Site.objects.all()), pk=site_id))


class EventOut(Schema):
    id: int
    at: datetime
    kind: str
    actor: str
    from_state: str
    to_state: str
    message: str
    data: dict[str, Any]
    site_id: int | None
    report_id: int | None
    organization_id: int | None
    incident_id: int | None


def event_out(e: Event) -> dict[str, Any]:
    return {
        "id": e.pk,
        "at": e.at,
        "kind": e.kind,
        "actor": e.actor,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "message": e.message,
        "data": e.data if isinstance(e.data, dict) else {"value": e.data},
        "site_id": e.site_id,
        "report_id": e.report_id,
        "organization_id": e.organization_id,
        "incident_id": e.incident_id,
    }


def _site(site_id: Id) -> Site:
    site = Site.objects.filter(pk=site_id).only("pk").first()
    if site is None:
        raise HttpError(404, "no such site")
    return site


@router.get("/{site_id}/events", response=Page[EventOut], auth=READ)
def site_events(request: HttpRequest, site_id: Id, limit: Limit = 100, offset: Offset = 0) -> Any:
    """The site's timeline, oldest first."""
    site = _site(site_id)
    return page_of(
        Event.objects.filter(site=site).order_by("at", "id"),
        limit=limit,
        offset=offset,
        out=event_out,
    )


class CheckOut(Schema):
    """A run of equal checks: the first as observed, then how many and until when."""

    id: int
    at: datetime
    # The run's last check and how many it holds; which fields changed from the run before.
    last_at: datetime
    count: int
    changed: list[str]
    outcome: str
    status: int | None
    ip: str | None
    final_url: str
    body_hash: str
    size: int | None
    latency_ms: int | None
    agent: str
    truncated: bool
    detail: str
    # The other browser identity's answer when both were asked ("" when not).
    other_agent: str
    other_outcome: str
    other_detail: str

    @staticmethod
    def resolve_changed(obj: Check) -> list[str]:
        return obj.changed_fields


@router.get("/{site_id}/checks", response=Page[CheckOut], auth=READ)
def site_checks(request: HttpRequest, site_id: Id, limit: Limit = 100, offset: Offset = 0) -> Any:
    """The site's checks, newest first, as runs of equal checks (``count``, ``last_at``)."""
    site = _site(site_id)
    return page_of(
        Check.objects.filter(site=site).order_by("-at", "-id"),
        limit=limit,
        offset=offset,
        out=lambda c: c,
    )


class EvidenceOut(Schema):
    """What was captured; the body, screenshot and sample are downloads in the UI."""

    id: int
    at: datetime
    kind: str
    url: str
    final_url: str
    ip: str | None
    status: int | None
    agent: str
    content_type: str
    sha256: str
    size: int
    body_truncated: bool
    is_html: bool
    title: str
    has_password: bool
    brand_hits: list[Any]
    form_fields: list[Any]
    screenshot_state: str
    has_screenshot: bool
    has_sample: bool


def evidence_out(e: Evidence) -> dict[str, Any]:
    return {
        **{name: getattr(e, name) for name in EvidenceOut.model_fields if hasattr(e, name)},
        "id": e.pk,
        "brand_hits": list(e.brand_hits or []),
        "form_fields": list(e.form_fields or []),
        "has_screenshot": bool(e.screenshot),
        "has_sample": bool(e.sample),
    }


@router.get("/{site_id}/evidence", response=Page[EvidenceOut], auth=READ)
def site_evidence(request: HttpRequest, site_id: Id, limit: Limit = 100, offset: Offset = 0) -> Any:
    """Evidence captured for the site (metadata only), newest first."""
    site = _site(site_id)
    return page_of(
        Evidence.objects.filter(site=site).defer("body").order_by("-at", "-id"),
        limit=limit,
        offset=offset,
        out=evidence_out,
    )


class ReviewIn(Schema):
    note: Text = ""


@router.post("/{site_id}/review", response={200: EventOut, 409: ErrorOut}, auth=ACT)
def site_review(request: HttpRequest, site_id: Id, body: ReviewIn) -> Any:
    """Mark the site's revival or recurrence reviewed: it leaves the queue.

    409 when there is nothing to review (another handler just did it).
    """
    site = get_object_or_404(Site, pk=site_id)
    # Refused (ActionError): 409 through the API's handler, as every action.
    return event_out(site_mark_reviewed(site=site, actor=api_actor(request), note=body.note))
