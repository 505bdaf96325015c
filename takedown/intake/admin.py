from django.contrib import admin

from takedown.intake.models import Report, Reporter


@admin.register(Reporter)
class ReporterAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "kind", "country", "language")
    list_filter = ("kind", "country")
    search_fields = ("name", "email")


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("id", "received", "channel", "reporter", "purpose", "tlp", "status")
    list_filter = ("channel", "status", "purpose", "tlp")
    raw_id_fields = ("reporter", "incident", "sites", "created_by")
    # Raw content is evidence: shown read-only, downloadable from the handler UI.
    readonly_fields = ("raw_text", "raw_bytes", "dedupe_key", "message_id")
