from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "takedown.web"
    label = "web"
