from django.apps import AppConfig


class TaskforcesConfig(AppConfig):
    """Task forces, participation, roles, assignments, objectives, tasks, updates."""

    name = "taskforces"
    verbose_name = "Task forces"

    def ready(self) -> None:
        from agencies.signals import agency_status_changed, membership_ended

        from . import live, notifications, permissions, services  # noqa: F401  (registers policies, kinds, live sources)

        agency_status_changed.connect(
            services.on_agency_status_changed, dispatch_uid="tf-agency-status"
        )
        membership_ended.connect(services.on_membership_ended, dispatch_uid="tf-membership-ended")
