from django.contrib import admin

from takedown.access.admin_base import AuditedAdmin, ReadOnlyAdmin
from takedown.intake.models import Report, Reporter


@admin.register(Reporter)
class ReporterAdmin(AuditedAdmin):
    list_display = ("name", "email", "kind", "country", "language")
    list_filter = ("kind", "country")
    search_fields = ("name", "email")


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("id", "received", "channel", "reporter", "purpose", "tlp", "status")
    list_filter = ("channel", "status", "purpose", "tlp")
    raw_id_fields = ("reporter", "incident", "sites", "created_by")
    # Raw content is evidence: downloadable from the handler UI, never edited.
    exclude = ("raw_bytes",)
