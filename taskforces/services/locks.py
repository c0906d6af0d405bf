"""The task-force lock every write inside a task force starts with
(docs/decisions/0002-one-lock-order.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

from coordination import db

from ..models import TaskForce

M = TypeVar("M", bound=Model)

# On PostgreSQL the lock is one prepared statement (``coordination.db``): every write
# inside a task force takes it, and the ORM spent longer building and compiling the query
# than the database spent taking the lock. The same statement the ORM wrote: only the
# task forces' own rows, FOR NO KEY UPDATE, lowest id first.
_LOCK_SQL = (
    f"SELECT t.id FROM {TaskForce._meta.db_table} t "  # noqa: S608 - the model's table; the ids are a parameter
    "WHERE t.id = ANY(%s) ORDER BY t.id FOR NO KEY UPDATE OF t"
)


def lock_task_forces(ids: Iterable[int]) -> None:
    """Lock these task forces' rows, lowest id first, until the transaction ends: the step
    every write inside a task force starts with (see the package docstring)."""
    wanted = sorted({int(i) for i in ids})
    if wanted and connection.vendor == "postgresql":
        db.fetch_all(_LOCK_SQL, (wanted,))
    elif wanted:  # elsewhere as the ORM writes it (SQLite takes no row locks)
        list(
            TaskForce.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk__in=wanted)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def _lock_task_force_of(model: type[Model], pk: Any, path: str = "task_force_id") -> None:
    """Lock the task force an object belongs to (``path`` names the column, through the
    role for an assignment), before locking the object itself."""
    found = model._default_manager.filter(pk=pk).values_list(path, flat=True).first()
    if found is not None:
        lock_task_forces([found])


def lock_in_task_force(
    queryset: QuerySet[M], pk: Any, *, task_force_id: int | None = None, path: str = "task_force_id"
) -> M:
    """Lock the task force a row belongs to, then the row itself, and return the row read
    afresh under its lock: the order every write inside a task force follows (task force
    before what is in it). The task force is ``task_force_id`` when the caller knows it,
    otherwise read from the row (``path`` names the column, through the role for an
    assignment). Only the row's own table is locked, whatever ``queryset`` joins
    (``of=("self",)``), and ``FOR NO KEY UPDATE``, as the decision record explains."""
    if task_force_id is None:
        _lock_task_force_of(queryset.model, pk, path)
    else:
        lock_task_forces([task_force_id])
    return queryset.select_for_update(no_key=True, of=("self",)).get(pk=pk)
