"""Periodic and background work for task forces."""

from celery import shared_task

from coordination.notifications.tasks import RETRY

from . import services


@shared_task(acks_late=True)
def expire_role_assignments() -> int:
    """Close assignments whose end date has passed (idempotent: only open ones are touched)."""
    return services.expire_assignments()


@shared_task(acks_late=True)
def send_reminders() -> int:
    """Expiring roles and tasks due soon (each warned about once)."""
    return services.send_reminders()


@shared_task(acks_late=True)
def escalate_unacknowledged() -> int:
    """Remind, then escalate to liaisons, for critical updates not acknowledged."""
    return services.escalate_unacknowledged()


@shared_task(acks_late=True)
def flag_unrecertified_assignments() -> int:
    """Tell liaison officers of assignments due for recertification (once per due cycle)."""
    return services.flag_unrecertified_assignments()


@shared_task(**RETRY)
def run_offboarding(job_id: int) -> int | None:
    """An offboarded agency's assignments and participations, ended in batches."""
    job = services.run_offboarding(job_id)
    return job.done if job is not None else None


@shared_task(acks_late=True)
def resume_offboarding() -> int:
    """Every minute: start again offboarding jobs whose worker died or task was lost."""
    return services.resume_offboarding()
