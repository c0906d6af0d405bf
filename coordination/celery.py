"""The Celery application; configuration comes from Django settings (CELERY_*).

Tasks are found in each installed app's ``tasks`` module and in the core's sub-packages that
have one (after_commit, audit, notifications, live, api)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coordination.settings.local")

app = Celery("coordination")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(
    [
        "coordination.after_commit",
        "coordination.audit",
        "coordination.notifications",
        "coordination.live",
        "coordination.api",
    ],
    related_name="tasks",
)


@app.task(name="coordination.tasks.noop")
def noop() -> None:
    """Does nothing: the benchmark measures Celery's own throughput with it."""
