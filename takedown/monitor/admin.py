"""Read-only views of what the monitor saw (evidence bodies are never shown here)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from takedown.monitor.models import Check, Evidence, Watch


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Check)
class CheckAdmin(ReadOnly):
    list_display = ("id", "site_id", "at", "outcome", "status", "ip", "latency_ms", "agent")
    list_filter = ("outcome", "agent")
    raw_id_fields = ("site",)


@admin.register(Evidence)
class EvidenceAdmin(ReadOnly):
    list_display = ("id", "site_id", "at", "kind", "status", "sha256", "size", "screenshot_state")
    list_filter = ("kind", "screenshot_state")
    raw_id_fields = ("site", "check_ref")
    exclude = ("body",)


@admin.register(Watch)
class WatchAdmin(ReadOnly):
    list_display = ("site_id", "checks", "down_streak", "decided", "last_outcome", "last_checked")
