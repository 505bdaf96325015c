"""Read-only views of what the monitor saw (evidence bodies are never shown here)."""

from django.contrib import admin

from takedown.access.admin_base import ReadOnlyAdmin
from takedown.monitor.models import Check, Evidence, Watch


@admin.register(Check)
class CheckAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "site_id",
        "at",
        "outcome",
        "verdict",
        "status",
        "ip",
        "latency_ms",
        "agent",
    )
    list_filter = ("verdict", "outcome", "agent")
    raw_id_fields = ("site",)


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    list_display = ("id", "site_id", "at", "kind", "status", "sha256", "size", "screenshot_state")
    list_filter = ("kind", "screenshot_state")
    raw_id_fields = ("site", "check_ref")
    exclude = ("body",)


@admin.register(Watch)
class WatchAdmin(ReadOnlyAdmin):
    list_display = (
        "site_id",
        "checks",
        "down_streak",
        "inconclusive_streak",
        "inconclusive_since",
        "decided",
        "last_outcome",
        "last_checked",
    )
