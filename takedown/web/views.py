"""Handler UI: thin views over the services and the models' read-side helpers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from takedown.access.roles import Role, request_actor, role_required
from takedown.cases.models import Event, SiteState
from takedown.cases.selectors import site_counts_by_state
from takedown.intake.models import Report, ReporterKind
from takedown.intake.services import ReporterInfo, ReportError, report_receive
from takedown.web.forms import ReportForm
from takedown.web.queue import QUEUE_SHOWN, queue_groups

# The dashboard reloads its queue this often (htmx), and shows this many events.
QUEUE_REFRESH = 10
FEED_SIZE = 25


@role_required(Role.VIEWER)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The queue is the dashboard: what needs a human, the sites by state, what just happened."""
    template = "web/_queue.html" if request.headers.get("HX-Request") else "web/dashboard.html"
    return render(request, template, queue_context(request))


@role_required(Role.VIEWER)
def queue_page(request: HttpRequest) -> HttpResponse:
    """Every item of one reason (the dashboard shows the first few of each)."""
    context = queue_context(request, reason=request.GET.get("reason", ""), per_group=500)
    return render(request, "web/queue.html", context)


def queue_context(
    request: HttpRequest, *, reason: str = "", per_group: int = QUEUE_SHOWN
) -> dict[str, Any]:
    include_historical = request.GET.get("historical") == "1"
    counts = site_counts_by_state(include_historical=include_historical)
    states = [(value, label, counts.get(value, 0)) for value, label in SiteState.choices]
    events = (
        Event.objects.filter(Q(site=None) | Q(site__historical=False))
        .select_related("site", "organization", "report")
        .order_by("-at", "-id")[:FEED_SIZE]
    )
    return {
        "states": states,
        "total": sum(counts.values()),
        "include_historical": include_historical,
        "groups": queue_groups(reason=reason, per_group=per_group),
        "events": events,
        "handlers": get_user_model().objects.filter(is_active=True).order_by("username"),
        "reporter_kinds": ReporterKind.choices,
        "languages": settings.LANGUAGES,
        "refresh_seconds": QUEUE_REFRESH,
    }


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
