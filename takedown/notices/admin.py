from django.contrib import admin

from takedown.access.admin_base import AuditedAdmin, ReadOnlyAdmin
from takedown.notices.models import BadAddress, CountryCSIRT, InboundMessage, Notice, OutboxMessage

# Notices, the outbox, inbound mail and bad addresses change through the
# notices services (states only through services.notice_transition and
# services.inbound_transition, which write the timeline; the handler UI and
# the API call them); here they are only shown.  National CSIRTs are a
# settings table: edited here, on the timeline.


@admin.register(CountryCSIRT)
class CountryCSIRTAdmin(AuditedAdmin):
    list_display = ["country", "name", "email", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["country", "name", "email"]


@admin.register(BadAddress)
class BadAddressAdmin(ReadOnlyAdmin):
    list_display = ["address", "organization", "created", "allowed_at", "allowed_by"]
    search_fields = ["address"]
    raw_id_fields = ["organization", "inbound"]


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "state", "rung", "organization", "reporter", "sent_at"]
    list_filter = ["kind", "state", "rung", "stalled"]
    raw_id_fields = ["organization", "reporter", "report", "parent"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "notice", "state", "attempts", "next_attempt", "sent_at"]
    list_filter = ["state"]
    exclude = ["raw"]
    readonly_fields = ["state"]
    raw_id_fields = ["notice"]


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "received", "kind", "from_header", "subject"]
    list_filter = ["kind", "source"]
    exclude = ["raw"]
    readonly_fields = ["kind", "handled_by"]
    raw_id_fields = ["notice", "report"]
