from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    """The shared core: users, the permission core, audit."""

    name = "coordination"
    verbose_name = "Coordination core"
