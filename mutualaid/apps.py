from django.apps import AppConfig


class MutualAidConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "mutualaid"
    label = "mutualaid"
    verbose_name = "Mutual aid"

    def ready(self) -> None:
        # register the permission policies and the kinds of notification with the core
        from . import notifications, permissions  # noqa: F401
