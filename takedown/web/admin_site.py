"""The Django admin, for the admin role only, behind the one login page.

Admins reach it whether or not Django's ``is_staff`` flag is set: the role is
what counts.  Its login form is the handler UI's (which is throttled), so there
is one way in.  Users, groups and API tokens are not here: they are managed on
the Users page, through services that write the audit trail.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from takedown.access.roles import Role, has_role


class TakedownAdminSite(admin.AdminSite):
    site_header = _("Takedown administration")
    site_title = _("Takedown administration")
    index_title = _("Settings and records")

    def has_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, Role.ADMIN)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index")
        if self.has_permission(request):
            return redirect(target)
        if request.user.is_authenticated:
            raise PermissionDenied(_("This needs the %(role)s role.") % {"role": Role.ADMIN.label})
        return redirect_to_login(target)
