from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "takedown.intake"
    label = "intake"
