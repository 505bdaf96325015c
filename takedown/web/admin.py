from django.contrib import admin

from takedown.web.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created", "last_used")
    readonly_fields = ("token_hash", "prefix", "created", "last_used")
