"""The organisations directory for handlers: list, detail, corrections."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from takedown.access.roles import Role, role_required
from takedown.cases.models import Event
from takedown.locate.forms import OrganizationEditForm
from takedown.locate.models import EDITABLE_FIELDS, Organization, OrgKind, OrgRole
from takedown.locate.services import (
    OrganizationEditError,
    organization_edit,
    organization_reset,
)
from takedown.stats.tables import Table


@role_required(Role.VIEWER)
def org_list(request: HttpRequest) -> HttpResponse:
    qs = Organization.objects.annotate(n_sites=Count("sites", distinct=True)).order_by("name")
    kind = request.GET.get("kind", "")
    if kind in OrgKind.values:
        qs = qs.filter(kind=kind)
    role = request.GET.get("role", "")
    if role in OrgRole.values:
        qs = qs.filter(role=role)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(name_local__icontains=q) | Q(handle__iexact=q))
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "locate/org_list.html",
        {
            "page": page,
            "kind": kind,
            "role": role,
            "q": q,
            "kinds": OrgKind.choices,
            "roles": OrgRole.choices,
        },
    )


@role_required(Role.VIEWER, write=Role.ADMIN)
def org_detail(request: HttpRequest, org_id: int) -> HttpResponse:
    org = get_object_or_404(Organization, pk=org_id)
    if request.method == "POST":
        form = OrganizationEditForm.for_org(org, data=request.POST)
        if form.is_valid():
            try:
                event = organization_edit(
                    org,
                    actor=request.user.get_username(),
                    changes=form.changes(org),
                    note=form.cleaned_data["note"],
                )
            except OrganizationEditError as exc:
                form.add_error(None, str(exc))
            else:
                if event is None:
                    messages.info(request, _("Nothing changed."))
                else:
                    messages.success(request, _("Saved. Your values win over registry data."))
                return redirect("locate:org_detail", org_id=org.pk)
    else:
        form = OrganizationEditForm.for_org(org)
    networks = org.networks.order_by("-fetched")[:50]
    sites = org.sites.filter(historical=False).order_by("-first_reported")[:50]
    site_count = org.sites.filter(historical=False).count()
    notices = org.notices.select_related("parent").order_by("-created", "-id")[:50]
    events = (
        Event.objects.filter(organization=org)
        .select_related("site", "organization")
        .order_by("-at", "-id")
    )
    overridden = [
        (name, org.overrides.get(name), org.registry_data.get(name))
        for name in EDITABLE_FIELDS
        if org.is_overridden(name)
    ]
    return render(
        request,
        "locate/org_detail.html",
        {
            "org": org,
            "form": form,
            "networks": networks,
            "sites": sites,
            "events": events[:100],
            "overridden": overridden,
            "site_count": site_count,
            "notices": notices,
            "closure": organization_closure_table(org),
        },
    )


def organization_closure_table(org: Organization) -> Table:
    """The seed's closure table (replies, time to closure, reports a month, closure
    rate), for this organisation alone, over the whole history."""
    from dataclasses import replace

    from takedown.stats.selectors import stats_get
    from takedown.stats.tables import organizations_table

    stats = stats_get()
    rows = [row for row in stats.organizations if row.org_id == org.pk]
    return organizations_table(replace(stats, organizations=rows))


@role_required(Role.ADMIN)
@require_POST
def org_reset(request: HttpRequest, org_id: int) -> HttpResponse:
    org = get_object_or_404(Organization, pk=org_id)
    fields = [f for f in request.POST.getlist("field") if f in EDITABLE_FIELDS]
    if organization_reset(org, actor=request.user.get_username(), fields=fields):
        messages.success(request, _("The registry's values apply again."))
    return redirect("locate:org_detail", org_id=org.pk)
