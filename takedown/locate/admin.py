from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from takedown.access.roles import request_actor
from takedown.locate.models import EDITABLE_FIELDS, Organization
from takedown.locate.services import OrganizationEditError, organization_edit


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    """Corrections go through ``organization_edit``, as on the organisation's page.

    Only the fields a handler may override are editable; each saved change is
    pinned against registry updates and written on the timeline.  Organisations
    come from registry data, so they are neither added nor deleted here.
    """

    list_display = ("name", "handle", "registry", "country", "kind", "language")
    list_filter = ("kind", "registry", "country")
    search_fields = ("name", "handle")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Organization._meta.fields if f.name not in EDITABLE_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # A handler's correction goes through ``organization_edit`` (the one
        # write path): pinned against registry refreshes and on the timeline.
        # ``obj`` already carries the form's values; the service compares
        # against the stored row, so it gets a fresh copy.
        current = Organization.objects.get(pk=obj.pk)
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS
        }
        try:
            organization_edit(
                current,
                actor=request_actor(request),
                changes=changes,
                note="edited in the admin",
            )
        except OrganizationEditError as exc:
            request._organization_edit_error = True  # type: ignore[attr-defined]
            messages.error(request, str(exc))

    def message_user(
        self,
        request: HttpRequest,
        message: Any,
        level: int | str = messages.INFO,
        extra_tags: str = "",
        fail_silently: bool = False,
    ) -> None:
        # The service refused the change: no "changed successfully" beside its error.
        if level == messages.SUCCESS and getattr(request, "_organization_edit_error", False):
            return
        super().message_user(request, message, level, extra_tags, fail_silently)
