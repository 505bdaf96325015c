from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class WebConfig(AppConfig):
    name = "takedown.web"
    label = "web"


class TakedownAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with the role-checking site (``admin_site.py``)."""

    default = False  # named explicitly in INSTALLED_APPS; WebConfig is this module's default
    default_site = "takedown.web.admin_site.TakedownAdminSite"
