from django.contrib import admin

from takedown.notices.models import BadAddress, CountryCSIRT, InboundMessage, Notice, OutboxMessage


@admin.register(CountryCSIRT)
class CountryCSIRTAdmin(admin.ModelAdmin):
    list_display = ["country", "name", "email", "enabled"]
    list_editable = ["enabled"]
    search_fields = ["country", "name", "email"]


@admin.register(BadAddress)
class BadAddressAdmin(admin.ModelAdmin):
    list_display = ["address", "organization", "created", "allowed_at", "allowed_by"]
    search_fields = ["address"]
    raw_id_fields = ["organization", "inbound"]


# States change only through the services (services.notice_transition,
# services.inbound_transition), which write the timeline: the admin shows them.


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "rung", "organization", "reporter", "sent_at"]
    list_filter = ["kind", "state", "rung", "stalled"]
    raw_id_fields = ["organization", "reporter", "report", "parent"]
    readonly_fields = [
        "state",
        "rung",
        "stalled",
        "stalled_at",
        "idempotency_key",
        "message_id",
        "body",
        "xarf",
    ]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "notice", "state", "attempts", "next_attempt", "sent_at"]
    list_filter = ["state"]
    exclude = ["raw"]
    readonly_fields = ["state"]
    raw_id_fields = ["notice"]


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "received", "kind", "from_header", "subject"]
    list_filter = ["kind", "source"]
    exclude = ["raw"]
    readonly_fields = ["kind", "handled_by"]
    raw_id_fields = ["notice", "report"]
