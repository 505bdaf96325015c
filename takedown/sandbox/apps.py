from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "takedown.sandbox"
    label = "sandbox"
