from typing import Any

from django.contrib import admin

from takedown.cases.models import Event, Incident, Site


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "defanged_url",
        "state",
        "kind",
        "brand",
        "ip",
        "organization",
        "first_reported",
    )
    list_filter = ("state", "kind", "historical")
    search_fields = ("url", "host", "brand")
    raw_id_fields = ("organization", "recurrence_of")
    # The state is changed through the services (with a timeline event), never here.
    readonly_fields = ("state", "state_changed")


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "created")
    raw_id_fields = ("sites",)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("at", "kind", "site", "from_state", "to_state", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("site", "incident", "report", "organization")

    # The timeline is append-only.
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
