from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    """The shared core: users, the permission core, audit, notifications, the API framework."""

    name = "coordination"
    verbose_name = "Coordination core"

    def ready(self) -> None:
        # The sign-in, sign-out and second-factor events of the audit trail.
        from .accounts import signals

        signals.connect()

        # Every audited change of an object an open page shows is pushed to those pages.
        from . import audit, live

        audit.add_listener(live.on_audit)

        # SQLite rebuilds a table to alter it, which its triggers do not survive: take
        # them away before migrating and put them back after (coordination.db.sqlite_triggers)
        from django.db.models.signals import post_migrate, pre_migrate

        from .db.sqlite_triggers import reinstall, remove

        pre_migrate.connect(remove, dispatch_uid="concord-sqlite-triggers-off")
        post_migrate.connect(reinstall, dispatch_uid="concord-sqlite-triggers-on")
