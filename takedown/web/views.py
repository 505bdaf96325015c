"""Handler UI: thin views over the services and the models' read-side helpers."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from takedown.cases.models import Event, Site, SiteState
from takedown.intake.models import Report
from takedown.intake.services import ReporterInfo, ReportError, report_receive
from takedown.web.forms import ReportForm
from takedown.web.roles import Role, request_actor, role_required


@role_required(Role.VIEWER)
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = dict(Site.objects.values_list("state").annotate(n=Count("id")).order_by())
    states = [(value, label, counts.get(value, 0)) for value, label in SiteState.choices]
    recent = Event.objects.select_related("site", "organization").order_by("-at", "-id")[:30]
    return render(
        request,
        "web/dashboard.html",
        {"states": states, "events": recent, "total": sum(counts.values())},
    )


@role_required(Role.VIEWER)
def site_list(request: HttpRequest) -> HttpResponse:
    qs = Site.objects.select_related("organization").order_by("-first_reported", "-id")
    state = request.GET.get("state", "")
    if state in SiteState.values:
        qs = qs.filter(state=state)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(url__icontains=q)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "web/site_list.html",
        {"page": page, "state": state, "q": q, "states": SiteState.choices},
    )


@role_required(Role.VIEWER)
def site_detail(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(
        Site.objects.select_related("organization", "recurrence_of"), pk=site_id
    )
    events = site.events.select_related("organization", "report").order_by("at", "id")
    reports = site.reports.select_related("reporter").order_by("received")
    return render(
        request,
        "web/site_detail.html",
        {"site": site, "events": events, "reports": reports},
    )


@role_required(Role.HANDLER)
def report_new(request: HttpRequest) -> HttpResponse:
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = report_receive(
                channel="form",
                text=data["text"],
                reporter=ReporterInfo(
                    name=data["reporter_name"],
                    email=data["reporter_email"],
                    kind=data["reporter_type"],
                    country=data["reporter_country"],
                ),
                purpose=data["purpose"],
                tlp=data["tlp"],
                kind=data["kind"],
                brand=data["brand"],
                actor=request_actor(request),
                created_by=request.user,
            )
        except ReportError as exc:
            form.add_error("text", str(exc))
        else:
            messages.success(
                request,
                _("Report %(token)s stored: %(n)d site(s), %(new)d new.")
                % {
                    "token": result.report.token,
                    "n": len(result.sites),
                    "new": len(result.new_sites),
                },
            )
            for error in result.errors:
                messages.warning(request, error)
            return redirect("report_detail", report_id=result.report.pk)
    return render(request, "web/report_new.html", {"form": form})


@role_required(Role.VIEWER)
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = get_object_or_404(Report.objects.select_related("reporter"), pk=report_id)
    return render(
        request, "web/report_detail.html", {"report": report, "sites": report.sites.all()}
    )


@role_required(Role.VIEWER)
def report_raw(request: HttpRequest, report_id: int) -> HttpResponse:
    """The raw report as a download, never rendered: it may be hostile HTML or mail."""
    report = get_object_or_404(Report, pk=report_id)
    if report.raw_bytes is not None:
        body: bytes = bytes(report.raw_bytes)
        name, ctype = f"report-{report.pk}.eml", "message/rfc822"
    else:
        body = report.raw_text.encode("utf-8")
        name, ctype = f"report-{report.pk}.txt", "text/plain; charset=utf-8"
    response = HttpResponse(body, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Original-Content-Type"] = ctype
    return response
