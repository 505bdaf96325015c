from django.contrib import admin

from takedown.access.admin_base import ReadOnlyAdmin
from takedown.cases.models import Event, Incident, Site

# Read-only: sites, incidents and the timeline change through the services
# (takedown/cases/services.py), called from the handler UI and the API.


@admin.register(Site)
class SiteAdmin(ReadOnlyAdmin):
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


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ("id", "title", "created")
    raw_id_fields = ("sites",)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The timeline is append-only (the audit page at /audit/ reads it too)."""

    list_display = ("at", "kind", "site", "from_state", "to_state", "actor")
    list_filter = ("kind",)
    raw_id_fields = ("site", "incident", "report", "organization")
