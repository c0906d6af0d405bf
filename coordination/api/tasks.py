"""Celery tasks of the API framework.

The task keeps the name it had when the tasks lived in ``coordination/tasks.py`` (``name=``),
so queued messages and beat's schedule find it."""

from __future__ import annotations

from celery import shared_task

from coordination.api import idempotency


@shared_task(name="coordination.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Hourly: remove API idempotency keys past their time (``CONCORD_IDEMPOTENCY_KEY_HOURS``)."""
    return idempotency.purge_expired()
