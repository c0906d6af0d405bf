from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    """The shared core: users, the permission core, audit."""

    name = "coordination"
    verbose_name = "Coordination core"

    def ready(self) -> None:
        # The audit trail's own policy (who may read which events) lives with the API that
        # first needed it; register it at start-up for every entry point.
        from . import signals
        from .api import policies  # noqa: F401

        signals.connect()
