"""Celery tasks of the notification pipeline and the mail outbox (each takes ids, re-reads,
and is safe to run twice; failures retry with exponential backoff and jitter).

Each task keeps the name it had when the tasks lived in ``coordination/tasks.py``
(``name=``), so queued messages and beat's schedule (settings ``CELERY_BEAT_SCHEDULE``)
find them."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from coordination import notifications
from coordination.notifications import mail

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(name="coordination.tasks.dispatch_event", **RETRY)
def dispatch_event(event_id: int) -> int:
    return notifications.dispatch(event_id)


@shared_task(name="coordination.tasks.deliver_emails", **RETRY)
def deliver_emails(notification_ids: list[int]) -> dict[str, int]:
    return notifications.deliver_many(notification_ids)


@shared_task(name="coordination.tasks.deliver_external", **RETRY)
def deliver_external(event_id: int) -> bool:
    return notifications.deliver_external(event_id)


@shared_task(name="coordination.tasks.sweep_outbox", acks_late=True)
def sweep_outbox() -> dict[str, int]:
    return notifications.sweep()


@shared_task(name="coordination.tasks.flush_held_emails", acks_late=True)
def flush_held_emails() -> int:
    return notifications.flush_held()


@shared_task(name="coordination.tasks.send_daily_digests", acks_late=True)
def send_daily_digests() -> int:
    return notifications.send_digests()


@shared_task(name="coordination.tasks.deliver_mail", bind=True, acks_late=True, max_retries=3)
def deliver_mail(self: Any, mail_id: int) -> str:
    """Send one e-mail of the mail outbox; retry a few times with backoff and jitter while
    the mail server refuses, then leave it to the sweeper (once a minute, for as long as
    the outage lasts). Run in-process (no broker), one try only: the request that queued
    it must not wait for a mail server."""
    try:
        return mail.deliver(mail_id)
    except Exception as error:
        if self.request.is_eager:
            logger.warning("E-mail #%s not sent, left in the outbox: %s", mail_id, error)
            return "pending"
        countdown = get_exponential_backoff_interval(
            factor=5, retries=self.request.retries, maximum=60, full_jitter=True
        )
        raise self.retry(exc=error, countdown=countdown) from error


@shared_task(name="coordination.tasks.sweep_mail_outbox", acks_late=True)
def sweep_mail_outbox() -> dict[str, int]:
    return mail.sweep()
