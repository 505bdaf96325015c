from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "takedown.monitor"
    label = "monitor"
