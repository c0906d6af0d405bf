"""Periodic work of mutual aid (Celery beat)."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def flag_overdue_mobilisation() -> int:
    """Every five minutes: tell both sides about commitments not mobilised by the time
    their request needed them (idempotent: one event per commitment, by its key)."""
    return services.flag_overdue_mobilisation()
