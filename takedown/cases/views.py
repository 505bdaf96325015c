"""Sites and incidents for handlers: search, a site's page, actions one by one and in bulk.

Views are thin: reading goes through ``cases.selectors``, every change through
the action catalogue (``takedown.actions``) and so through one service
function each (docs/workbench.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from takedown.access.redirects import local_next
from takedown.access.roles import Role, request_actor, role_required
from takedown.actions import ACTIONS, BULK_LIMIT, ActionResult, sites_act
from takedown.cases.models import Event, Incident, Site, SiteState
from takedown.cases.selectors import (
    MAX_PER_PAGE,
    BadFilter,
    site_filter_parse,
    site_review_pending,
    site_search,
    site_search_page,
)
from takedown.cases.services import ActionError, incident_merge
from takedown.lib.ids import parse_id


def _int(value: Any, default: int = 1) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _handlers() -> list[Any]:
    return list(get_user_model().objects.filter(is_active=True).order_by("username"))


@role_required(Role.VIEWER)
def site_list(request: HttpRequest) -> HttpResponse:
    """The search page: every criterion of ``site_filter_parse``, pages, a total, bulk actions."""
    try:
        filters = site_filter_parse(request.GET)
    except BadFilter as exc:
        response = render(
            request,
            "cases/site_list.html",
            {"error": str(exc), "states": SiteState.choices, "params": request.GET},
        )
        response.status_code = 400
        return response
    per_page = max(1, min(_int(request.GET.get("per_page"), 50), MAX_PER_PAGE))
    page = site_search_page(filters=filters, page=_int(request.GET.get("page")), per_page=per_page)
    query = urlencode(filters.as_params() | {"per_page": str(per_page)}, doseq=True)
    return render(
        request,
        "cases/site_list.html",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "params": request.GET,
            "states": SiteState.choices,
            "actions": ACTIONS.values(),
            "handlers": _handlers(),
            "bulk_limit": BULK_LIMIT,
        },
    )


@role_required(Role.VIEWER)
def site_detail(request: HttpRequest, site_id: int) -> HttpResponse:
    from takedown.notices.models import InboundMessage, NoticeSite

    site = get_object_or_404(
        Site.objects.select_related("organization", "recurrence_of", "assignee"), pk=site_id
    )
    events = site.events.select_related("organization", "report").order_by("at", "id")
    reports = site.reports.select_related("reporter").order_by("received")
    notice_links = list(
        NoticeSite.objects.filter(site=site)
        .select_related("notice", "notice__organization", "notice__reporter", "notice__parent")
        .order_by("notice__created", "notice_id")
    )
    notices = [ns.notice for ns in notice_links]
    roots = {n.parent_id or n.pk for n in notices}
    inbound = (
        InboundMessage.objects.filter(notice__in=[*roots, *[n.pk for n in notices]])
        .defer("raw")
        .select_related("notice")
        .order_by("received")
    )
    return render(
        request,
        "cases/site_detail.html",
        {
            "site": site,
            "events": events,
            "reports": reports,
            "notices": notices,
            "inbound": inbound,
            "incidents": Incident.objects.filter(sites=site).order_by("-created"),
            "review": site_review_pending(site=site),
            "actions": ACTIONS,
            "handlers": _handlers(),
        },
    )


def _report(request: HttpRequest, result: ActionResult) -> None:
    label = ACTIONS[result.action].label
    if result.done:
        messages.success(
            request,
            ngettext(
                "%(action)s: done for %(n)d site.",
                "%(action)s: done for %(n)d sites.",
                len(result.done),
            )
            % {"action": label, "n": len(result.done)},
        )
    if result.refused:
        shown = "; ".join(f"#{pk}: {reason}" for pk, reason in result.refused[:10])
        more = len(result.refused) - 10
        messages.warning(
            request,
            ngettext(
                "%(action)s: refused for %(n)d site (%(why)s).",
                "%(action)s: refused for %(n)d sites (%(why)s).",
                len(result.refused),
            )
            % {
                "action": label,
                "n": len(result.refused),
                "why": shown + (f"; +{more}" if more > 0 else ""),
            },
        )


def _act(request: HttpRequest, sites: list[Site]) -> ActionResult | None:
    action = request.POST.get("action", "")
    try:
        result = sites_act(
            action=action, sites=sites, actor=request_actor(request), params=request.POST
        )
    except ActionError as exc:
        messages.error(request, str(exc))
        return None
    _report(request, result)
    return result


@role_required(Role.HANDLER)
@require_POST
def site_act(request: HttpRequest, site_id: int) -> HttpResponse:
    """One action on one site (the site page and the queue's one-click buttons)."""
    site = get_object_or_404(Site, pk=site_id)
    _act(request, [site])
    return redirect(_next(request, reverse("site_detail", args=[site.pk])))


def _next(request: HttpRequest, default: str) -> str:
    """Back to where the handler was (only a path on this site)."""
    return local_next(request, default)


@role_required(Role.HANDLER)
@require_POST
def site_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the ticked sites, or on every site matching the search."""
    back = reverse("site_list") + "?" + request.POST.get("query", "")
    if request.POST.get("scope") == "all":
        try:
            filters = site_filter_parse(_query_dict(request.POST.get("query", "")))
        except BadFilter as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
        sites = list(site_search(filters=filters)[: BULK_LIMIT + 1])
        if len(sites) > BULK_LIMIT:
            messages.error(
                request,
                _("The search matches more than %(n)d sites: narrow it first.") % {"n": BULK_LIMIT},
            )
            return redirect(back)
    else:
        ids = [i for v in request.POST.getlist("site") if (i := parse_id(v)) is not None]
        ids = ids[:BULK_LIMIT]
        sites = list(Site.objects.filter(pk__in=ids).order_by("pk"))
    if not sites:
        messages.error(request, _("No site selected."))
        return redirect(back)
    _act(request, sites)
    return redirect(back)


def _query_dict(query: str) -> Any:
    from django.http import QueryDict

    return QueryDict(query[:8000])


# --- incidents --------------------------------------------------------------------


@role_required(Role.VIEWER)
def incident_list(request: HttpRequest) -> HttpResponse:
    from django.core.paginator import Paginator
    from django.db.models import Count

    qs = Incident.objects.annotate(n_sites=Count("sites", distinct=True)).order_by("-created")
    if request.GET.get("merged") != "1":
        qs = qs.filter(merged_into=None)
    q = request.GET.get("q", "").strip()[:200]
    if q:
        qs = qs.filter(title__icontains=q)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "cases/incident_list.html", {"page": page, "q": q})


@role_required(Role.VIEWER, write=Role.HANDLER)
def incident_detail(request: HttpRequest, incident_id: int) -> HttpResponse:
    incident = get_object_or_404(Incident.objects.select_related("merged_into"), pk=incident_id)
    sites = incident.sites.select_related("organization", "assignee").order_by("pk")
    events = (
        Event.objects.filter(incident=incident)
        .select_related("site", "organization")
        .order_by("-at", "-id")[:200]
    )
    return render(
        request,
        "cases/incident_detail.html",
        {
            "incident": incident,
            "sites": sites,
            "events": events,
            "merged": incident.merged.order_by("pk"),
            "actions": ACTIONS.values(),
            "handlers": _handlers(),
            "query": urlencode({"incident": incident.pk}),
        },
    )


@role_required(Role.HANDLER)
@require_POST
def incident_merge_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    source = get_object_or_404(Incident, pk=incident_id)
    raw = request.POST.get("into", "").strip().lstrip("#")
    into = parse_id(raw)
    target = Incident.objects.filter(pk=into).first() if into is not None else None
    if target is None:
        messages.error(request, _("No incident %(n)s.") % {"n": raw[:20]})
        return redirect("incident_detail", incident_id=source.pk)
    try:
        incident_merge(source=source, target=target, actor=request_actor(request))
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect("incident_detail", incident_id=source.pk)
    messages.success(request, _("Merged into incident %(n)d.") % {"n": target.pk})
    return redirect("incident_detail", incident_id=target.pk)
