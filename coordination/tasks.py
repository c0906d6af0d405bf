"""Celery tasks of the notification pipeline (each takes ids, re-reads, and is safe to run
twice; failures retry with exponential backoff and jitter) and of the audit trail."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from . import audit, mail, notifications
from .api import idempotency

logger = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(**RETRY)
def dispatch_event(event_id: int) -> int:
    return notifications.dispatch(event_id)


@shared_task(**RETRY)
def deliver_emails(notification_ids: list[int]) -> dict[str, int]:
    return notifications.deliver_many(notification_ids)


@shared_task(**RETRY)
def deliver_external(event_id: int) -> bool:
    return notifications.deliver_external(event_id)


@shared_task(acks_late=True)
def sweep_outbox() -> dict[str, int]:
    return notifications.sweep()


@shared_task(acks_late=True)
def flush_held_emails() -> int:
    return notifications.flush_held()


@shared_task(acks_late=True)
def send_daily_digests() -> int:
    return notifications.send_digests()


@shared_task
def noop() -> None:
    """Does nothing: the benchmark measures Celery's own throughput with it."""


@shared_task
def verify_audit_chain() -> dict[str, object]:
    """Daily: check the audit trail's hash chain; a broken link is logged as critical."""
    report = audit.verify_chain()
    if not report.intact:
        logger.critical("Audit chain broken at event #%s: %s", report.broken_at, report.problem)
    return {"checked": report.checked, "broken_at": report.broken_at}


@shared_task
def purge_audit_events() -> dict[str, object]:
    """Daily: remove audit events past the retention period (recorded as it runs)."""
    return audit.purge_expired()


@shared_task
def purge_idempotency_keys() -> int:
    """Hourly: remove API idempotency keys past their time (``CONCORD_IDEMPOTENCY_KEY_HOURS``)."""
    return idempotency.purge_expired()


@shared_task(acks_late=True)
def seal_audit_chain() -> int:
    """After commits that recorded events, and every few seconds from beat: chain the
    events whose writers have finished (``coordination.audit.seal``)."""
    return audit.seal()


@shared_task(bind=True, acks_late=True, max_retries=3)
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


@shared_task(acks_late=True)
def sweep_mail_outbox() -> dict[str, int]:
    return mail.sweep()
