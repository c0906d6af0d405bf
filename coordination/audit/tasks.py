"""Celery tasks of the audit trail: sealing the chain, checking it, purging past retention.

Each task keeps the name it had when the tasks lived in ``coordination/tasks.py``
(``name=``), so queued messages and beat's schedule find them."""

from __future__ import annotations

import logging

from celery import shared_task

from coordination import audit

logger = logging.getLogger(__name__)


@shared_task(name="coordination.tasks.verify_audit_chain")
def verify_audit_chain() -> dict[str, object]:
    """Daily: check the audit trail's hash chain; a broken link is logged as critical."""
    report = audit.verify_chain()
    if not report.intact:
        logger.critical("Audit chain broken at event #%s: %s", report.broken_at, report.problem)
    return {"checked": report.checked, "broken_at": report.broken_at}


@shared_task(name="coordination.tasks.purge_audit_events")
def purge_audit_events() -> dict[str, object]:
    """Daily: remove audit events past the retention period (recorded as it runs)."""
    return audit.purge_expired()


@shared_task(name="coordination.tasks.seal_audit_chain", acks_late=True)
def seal_audit_chain() -> int:
    """After commits that recorded events, and every few seconds from beat: chain the
    events whose writers have finished (``coordination.audit.seal``)."""
    return audit.seal()


@shared_task(name="coordination.audit.request_seal")
def request_seal() -> None:
    """Ask for the chain to be sealed soon (``coordination.audit.request_seal``): the
    question a web request's commits leave, sent with the rest of its work."""
    audit.request_seal()
