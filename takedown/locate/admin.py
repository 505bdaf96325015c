from django.contrib import admin

from takedown.locate.models import Organization


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "handle", "registry", "country", "kind", "language")
    list_filter = ("kind", "registry", "country")
    search_fields = ("name", "handle")
