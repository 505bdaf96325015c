"""The reporters' directory: who reports to the team, and how to treat them."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from takedown.access.redirects import local_next
from takedown.access.roles import Role, request_actor, role_required
from takedown.intake.models import Reporter, ReporterKind
from takedown.intake.services import ReportError, reporter_classify


class ClassifyForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Type"), choices=ReporterKind.choices)
    country = forms.CharField(
        label=gettext_lazy("Country"), max_length=2, required=False, help_text="ISO 3166"
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)
    notify_ack = forms.BooleanField(label=gettext_lazy("Acknowledge reports"), required=False)
    notify_closed = forms.BooleanField(label=gettext_lazy("Tell when closed"), required=False)


@role_required(Role.VIEWER)
def reporter_list(request: HttpRequest) -> HttpResponse:
    qs = Reporter.objects.annotate(n_reports=Count("reports")).order_by("-classified", "name")
    q = request.GET.get("q", "").strip()[:200]
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q))
    kind = request.GET.get("kind", "")
    if kind in ReporterKind.values:
        qs = qs.filter(kind=kind)
    unclassified = request.GET.get("unclassified") == "1"
    if unclassified:
        qs = qs.filter(classified=False)
    page = Paginator(qs.order_by("classified", "name", "pk"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "intake/reporter_list.html",
        {
            "page": page,
            "q": q,
            "kind": kind,
            "kinds": ReporterKind.choices,
            "unclassified": unclassified,
        },
    )


@role_required(Role.VIEWER, write=Role.HANDLER)
def reporter_detail(request: HttpRequest, reporter_id: int) -> HttpResponse:
    reporter = get_object_or_404(Reporter, pk=reporter_id)
    if request.method == "POST":
        form = ClassifyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                reporter_classify(
                    reporter=reporter,
                    actor=request_actor(request),
                    kind=data["kind"],
                    country=data["country"],
                    language=data["language"],
                    notify_ack=data["notify_ack"],
                    notify_closed=data["notify_closed"],
                )
            except ReportError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Classified %(name)s.") % {"name": reporter})
        else:
            messages.error(
                request,
                _("Check the classification: %(errors)s") % {"errors": form.errors.as_text()},
            )
        return redirect(
            local_next(request, reverse("reporter_detail", kwargs={"reporter_id": reporter.pk}))
        )
    reports = reporter.reports.order_by("-received")[:100]
    return render(
        request,
        "intake/reporter_detail.html",
        {
            "reporter": reporter,
            "reports": reports,
            "report_count": reporter.reports.count(),
            "reporter_kinds": ReporterKind.choices,
            "languages": settings.LANGUAGES,
        },
    )
