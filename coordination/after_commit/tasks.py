"""The Celery task that runs the work a web request's commits left, in one message."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from coordination import after_commit


@shared_task(name="coordination.after_commit.run", bind=True, acks_late=True)
def run_after_commit(self: Any, batch: list[list[Any]]) -> int:
    """Run each task of ``batch`` (``[name, args]`` pairs) here, in order. Safe to run
    twice (every task it runs is): a worker lost on the way runs it again."""
    return after_commit.run(batch, eager=bool(self.request.is_eager))
