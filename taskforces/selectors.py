"""Reads for task forces, always through the permission core."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, Count, F, IntegerField, Prefetch, Q, QuerySet, Value, When

from .models import Objective, Role, RoleAssignment, Task, TaskForce, Update
from .permissions import current_assignments


def task_forces_for(user: Any) -> QuerySet[TaskForce]:
    """The task forces a person may see, with their lead agency."""
    return TaskForce.objects.restrict(user, "view").select_related("lead_agency")


def my_current_assignments(user: Any) -> QuerySet[RoleAssignment]:
    return (
        current_assignments(user)
        .select_related("role__task_force", "agency")
        .order_by("role__task_force__name", "role__order")
    )


def with_progress(objectives: QuerySet[Objective]) -> QuerySet[Objective]:
    """Annotate ``task_total``, ``task_done`` and ``progress`` (percent of tasks done;
    cancelled tasks do not count) in the same query."""
    live = ~Q(tasks__status=Task.Status.CANCELLED)
    return objectives.annotate(
        task_total=Count("tasks", filter=live),
        task_done=Count("tasks", filter=Q(tasks__status=Task.Status.DONE)),
    ).annotate(
        progress=Case(
            When(task_total=0, then=Value(0)),
            default=F("task_done") * 100 / F("task_total"),
            output_field=IntegerField(),
        )
    )


def objective_progress(objective: Objective) -> int:
    counts = objective.tasks.exclude(status=Task.Status.CANCELLED).aggregate(
        total=Count("id"), done=Count("id", filter=Q(status=Task.Status.DONE))
    )
    return round(100 * counts["done"] / counts["total"]) if counts["total"] else 0


def organisation_chart(task_force: TaskForce) -> QuerySet[Role]:
    """Roles with their current holders and agencies (the ICS 203 view)."""
    holders = RoleAssignment.objects.current().select_related("person", "agency")
    current_holders: Any = Prefetch("assignments", queryset=holders, to_attr="holders")
    return task_force.roles.prefetch_related(current_holders, "eligible_agencies")


def visible_objectives(user: Any, task_force: TaskForce) -> QuerySet[Objective]:
    return with_progress(
        Objective.objects.restrict(user, "view").filter(task_force=task_force)
    ).select_related("owner_agency")


def visible_updates(user: Any, task_force: TaskForce) -> QuerySet[Update]:
    return (
        Update.objects.restrict(user, "view")
        .filter(task_force=task_force)
        .select_related("author", "author_agency")
    )
