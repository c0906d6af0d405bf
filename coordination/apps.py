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

        # SQLite rebuilds a table to alter it, which its triggers do not survive: take
        # them away before migrating and put them back after (coordination.sqlite_triggers)
        from django.db.models.signals import post_migrate, pre_migrate

        from .sqlite_triggers import reinstall, remove

        pre_migrate.connect(remove, dispatch_uid="concord-sqlite-triggers-off")
        post_migrate.connect(reinstall, dispatch_uid="concord-sqlite-triggers-on")
