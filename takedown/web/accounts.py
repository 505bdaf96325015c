"""Users and API tokens, managed by admins in the UI; the login lockout page.

Thin views over ``takedown.web.services``: each change goes through a service
that writes the timeline, so it shows on the audit page.  A token's secret is
shown once, in the answer to the POST that issued it (never stored, never put
in a cookie or the session), with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from takedown.access.roles import Role, request_actor, role_required, user_role
from takedown.web.models import ApiToken
from takedown.web.services import (
    AccountError,
    token_issue,
    token_revoke,
    user_create,
    user_role_set,
    user_set_active,
    user_set_password,
)

ROLE_CHOICES = Role.choices
LIMIT_CHOICES = [("", gettext_lazy("the owner's role")), *Role.choices]


class UserCreateForm(forms.Form):
    username = forms.CharField(
        label=gettext_lazy("User name"), max_length=150, validators=[UnicodeUsernameValidator()]
    )
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Leave empty for an account that only uses API tokens."),
    )

    def clean_username(self) -> str:
        name = str(self.cleaned_data["username"]).strip()
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise forms.ValidationError(_("This user name is taken."))
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password"):
            user = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(data["password"], user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=ROLE_CHOICES)


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What uses it, e.g. “SOAR playbook”."),
    )
    limit = forms.ChoiceField(
        label=gettext_lazy("May do at most"), choices=LIMIT_CHOICES, required=False
    )


@role_required(Role.ADMIN)
def user_list(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = user_create(
                username=data["username"],
                email=data["email"],
                role=Role(data["role"]),
                password=data["password"] or None,
                actor=request_actor(request),
            )
        except AccountError as exc:
            form.add_error("username", str(exc))
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.get_username()})
            return redirect("user_detail", user_id=user.pk)
    users = (
        get_user_model()
        .objects.annotate(n_tokens=Count("api_tokens", filter=Q(api_tokens__revoked__isnull=True)))
        .prefetch_related("groups")
        .order_by("username")
    )
    rows = [(u, user_role(u) if u.is_active else None) for u in users]
    return render(request, "web/users.html", {"rows": rows, "form": form})


@role_required(Role.ADMIN)
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    target = get_object_or_404(get_user_model(), pk=user_id)
    actor = request_actor(request)
    myself = target.pk == request.user.pk
    role_form = RoleForm(initial={"role": user_role(target) or Role.VIEWER})
    password_form = SetPasswordForm(target)
    token_form = TokenForm()
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "role" and not myself and not target.is_superuser:
            role_form = RoleForm(request.POST)
            if role_form.is_valid():
                if user_role_set(
                    user=target, role=Role(role_form.cleaned_data["role"]), actor=actor
                ):
                    messages.success(request, _("Role changed."))
                return redirect("user_detail", user_id=target.pk)
        elif action in {"activate", "deactivate"} and not myself:
            if user_set_active(user=target, active=action == "activate", actor=actor):
                messages.success(
                    request,
                    _("The account can log in again.")
                    if action == "activate"
                    else _("The account is disabled; its tokens stop working."),
                )
            return redirect("user_detail", user_id=target.pk)
        elif action == "password":
            # The form validates only: the service saves and writes the timeline.
            password_form = SetPasswordForm(target, request.POST)
            if password_form.is_valid():
                user_set_password(
                    user=target, password=password_form.cleaned_data["new_password1"], actor=actor
                )
                messages.success(request, _("Password set."))
                return redirect("user_detail", user_id=target.pk)
        elif action == "token":
            token_form = TokenForm(request.POST)
            if token_form.is_valid():
                token, secret = token_issue(
                    user=target,
                    name=token_form.cleaned_data["name"],
                    limit=token_form.cleaned_data["limit"] or "",
                    actor=actor,
                )
                response = render(
                    request,
                    "web/token_issued.html",
                    {"target": target, "token": token, "secret": secret},
                )
                response["Cache-Control"] = "no-store"
                return response
        else:
            messages.error(request, _("That cannot be done to this account."))
            return redirect("user_detail", user_id=target.pk)
    tokens = target.api_tokens.order_by("-created")
    return render(
        request,
        "web/user_detail.html",
        {
            "target": target,
            "target_role": user_role(target) if target.is_active else None,
            "myself": myself,
            "role_form": role_form,
            "password_form": password_form,
            "token_form": token_form,
            "tokens": tokens,
        },
    )


@role_required(Role.ADMIN)
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=token_id)
    if token_revoke(token=token, actor=request_actor(request)):
        messages.success(request, _("Token %(prefix)s… revoked.") % {"prefix": token.prefix})
    return redirect("user_detail", user_id=token.user_id)


def locked_out(request: HttpRequest, response: Any = None, credentials: Any = None) -> HttpResponse:
    """django-axes' answer to a locked-out login (``AXES_LOCKOUT_CALLABLE``)."""
    from django.conf import settings

    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(
        request,
        "registration/locked_out.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes},
        status=429,
    )
