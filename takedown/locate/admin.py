from typing import Any

from django.contrib import admin, messages
from django.forms import ModelForm
from django.http import HttpRequest

from takedown.locate.models import EDITABLE_FIELDS, Organization
from takedown.locate.services import OrganizationEditError, organization_edit


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "handle", "registry", "country", "kind", "language")
    list_filter = ("kind", "registry", "country")
    search_fields = ("name", "handle")

    # A handler's correction goes through ``organization_edit`` (the one write
    # path): pinned against registry refreshes and written on the timeline.
    # The rest of the entry comes from the registries and is shown read-only.
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return [f.name for f in Organization._meta.fields if f.name not in EDITABLE_FIELDS]

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        actor = request.user.get_username()
        if change:
            target = Organization.objects.get(pk=obj.pk)
            wanted = [name for name in form.changed_data if name in EDITABLE_FIELDS]
            note = "edited in the admin"
        else:
            super().save_model(request, obj, form, change)
            target, wanted, note = obj, list(EDITABLE_FIELDS), "created in the admin"
        try:
            organization_edit(
                target,
                actor=actor,
                changes={name: form.cleaned_data[name] for name in wanted},
                note=note,
            )
        except OrganizationEditError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
