"""Periodic and background work for task forces."""

from celery import shared_task

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
