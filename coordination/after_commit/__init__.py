"""The work a commit leaves for the workers, and, within a web request, one message for it.

A write leaves work for Celery's workers: relay a live change, dispatch a notification
event, deliver a mail, seal the audit trail. Each is a row written in the write's
transaction and a task given its id once the transaction commits (``later``). Sending a
Celery message costs the request about 0.4 ms (kombu builds a Redis client for each), and
posting one update left two. So, within a web request (``AfterCommitMiddleware``), the
tasks whose transactions committed are collected and sent together when the request
ends, in one message: ``run_after_commit`` runs them on a worker, in the order they were
left (more than ``RUN_IN_ONE``, from a service that ended many assignments, are sent on
alone from there, for the workers to share). Outside a request (a worker, a command)
each goes at its commit, alone, as before.

Each task stays its own:

* it is collected only once its transaction commits: a transaction or savepoint rolled
  back leaves nothing (Django drops the callbacks registered inside it);
* on the worker, a task that fails is sent again in a message of its own, with its own
  retries;
* a broker that is down fails no request: the rows are saved and each kind's sweeper
  (beat) picks them up, as when the message went alone.

A task may name what to do instead when it would travel alone (``alone``): asking for the
audit trail's seal is a cache key the request sets, cheaper than a message, unless a
message goes anyway.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.db import transaction
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Left:
    """A task left by a commit: the task, its arguments (ids), what to run instead alone."""

    task: Any
    args: tuple[Any, ...]
    alone: Callable[[], None] | None = None


_collected: contextvars.ContextVar[list[_Left] | None] = contextvars.ContextVar(
    "concord_after_commit", default=None
)


def later(task: Any, *args: Any, alone: Callable[[], None] | None = None) -> None:
    """Run the Celery task ``task`` with ``args`` (JSON values: ids of rows the
    transaction wrote) once the current transaction commits; at once outside one.

    ``alone``: what to run instead, in this process, when the task would go in a message
    of its own. The task must be safe to run twice (it reads its rows again): a request's
    message carries the same task for the same rows once."""
    left = _Left(task, args, alone)

    def committed() -> None:
        collected = _collected.get()
        if collected is None:
            _send([left])
        else:
            collected.append(left)

    # robust: a broker that is down must not fail the change (the sweepers send it later)
    transaction.on_commit(committed, robust=True)


@contextmanager
def one_message() -> Iterator[None]:
    """Collect the tasks that commits leave within the block; send them when it ends."""
    collected: list[_Left] = []
    token = _collected.set(collected)
    try:
        yield
    finally:
        _collected.reset(token)
        if collected:
            # the same task for the same rows, left by several commits (a seal asked for
            # by each audit event): once is enough, as every such task is safe to run twice
            _send(list(dict.fromkeys(collected)))


def _send(collected: list[_Left]) -> None:
    """Send the tasks: the ones that can be run here alone are, when nothing else needs a
    message; one task goes as itself; more go as one ``run_after_commit``."""
    alone = [left.alone for left in collected if left.alone is not None]
    if len(alone) == len(collected):
        for run_here in alone:
            try:
                run_here()
            except Exception:
                logger.warning("Work left by a commit failed here.", exc_info=True)
        return
    try:
        if len(collected) == 1:
            collected[0].task.apply_async(collected[0].args)
        else:
            from .tasks import run_after_commit

            run_after_commit.delay([[left.task.name, list(left.args)] for left in collected])
    except Exception:  # the request already committed: nothing to undo, the sweepers resend
        logger.warning("Work left by a commit was not queued; the sweepers will.", exc_info=True)


# a request's message with more tasks than this (a service that ended many assignments)
# is split again on the worker, one message per task, for the workers to share
RUN_IN_ONE = 8


def run(batch: list[list[Any]], *, eager: bool) -> int:
    """Run each task of ``batch`` (``[name, args]`` pairs) in this process, in order; one
    that fails is sent alone, with its retries (unless ``eager``: no worker would take it,
    and the sweepers will). More than ``RUN_IN_ONE`` tasks (and not ``eager``) are each
    sent alone instead. Returns how many ran here without failing."""
    if len(batch) > RUN_IN_ONE and not eager:
        for name, args in batch:
            _resend(current_app.tasks[name], args, countdown=0)
        return 0
    ran = 0
    for name, args in batch:
        task = current_app.tasks[name]
        try:
            task(*args)
            ran += 1
        except Exception:
            logger.warning("%s%s failed in a batch; sent alone.", name, tuple(args), exc_info=True)
            if not eager:
                _resend(task, args)
    return ran


def _resend(task: Any, args: list[Any], *, countdown: int = 1) -> None:
    """Queue one task of a batch alone; if even that fails, the sweepers have it."""
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:
        logger.warning("%s%s not queued again; the sweepers will.", task.name, tuple(args))


class AfterCommitMiddleware:
    """The tasks a request's commits leave go in one message when it ends
    (``one_message``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with one_message():
            return self.get_response(request)
