from django.apps import AppConfig


class LocateConfig(AppConfig):
    name = "takedown.locate"
    label = "locate"
