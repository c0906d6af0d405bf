"""Periodic and background work for task forces."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def expire_role_assignments() -> int:
    """Close assignments whose end date has passed (idempotent: only open ones are touched)."""
    return services.expire_assignments()
