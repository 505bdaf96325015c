from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "takedown.stats"
    label = "stats"
