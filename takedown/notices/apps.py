from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "takedown.notices"
    label = "notices"
