"""Celery tasks of the live pages: relay a committed change, sweep what was missed."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from coordination import live

logger = logging.getLogger(__name__)


@shared_task(name="coordination.live.relay", bind=True, acks_late=True, max_retries=3)
def relay_change(self: Any, change_id: int) -> int:
    """Publish one change right after its commit. Run in-process (no broker), one try
    only: the request that made the change must not wait for Redis; the sweeper
    publishes it later."""
    try:
        return live.relay(change_id)
    except Exception as error:
        if self.request.is_eager:
            logger.warning("Live change #%s left for the sweeper: %s", change_id, error)
            return 0
        raise self.retry(exc=error, countdown=1 + self.request.retries) from error


@shared_task(name="coordination.live.sweep", acks_late=True)
def sweep_live() -> dict[str, int]:
    return live.sweep()
