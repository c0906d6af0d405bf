"""Shared objectives and their tasks."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.models import Agency
from coordination import audit, notifications
from coordination.models import User
from coordination.permissions import PermissionDenied, can, require

from ..lifecycles import OBJECTIVE, TASK
from ..models import Objective, OperationalPeriod, Role, Task, TaskForce
from ._common import _apply_changes, _check_agencies, _check_marking, _reread_or_rollback, record
from .locks import lock_in_task_force, lock_task_forces
from .periods import _check_period_of

OBJECTIVE_FIELDS = (
    "title",
    "description",
    "owner_agency",
    "status",
    "priority",
    "target_date",
    "marking",
    "period",
)


@transaction.atomic
def create_objective(
    *,
    task_force: TaskForce,
    title: str,
    owner_agency: Agency,
    by: User,
    description: str = "",
    contributing_agencies: Iterable[Agency] = (),
    priority: int = Objective.Priority.MEDIUM,
    target_date: datetime.date | None = None,
    marking: int | None = None,
    status: str = Objective.Status.NOT_STARTED,
    period: OperationalPeriod | None = None,
) -> Objective:
    """Add a shared objective; its marking defaults to the task force's. It may be tied
    to one of the task force's operational periods."""
    require(by, "manage_objectives", task_force)
    lock_task_forces([task_force.pk])
    marking = task_force.marking if marking is None else marking
    _check_marking(marking, by, task_force)
    _check_period_of(period, task_force.pk)
    contributors = _check_agencies(task_force, owner_agency, contributing_agencies)
    objective = Objective(
        task_force=task_force,
        title=title.strip(),
        description=description.strip(),
        owner_agency=owner_agency,
        priority=priority,
        target_date=target_date,
        marking=marking,
        status=status,
        period=period,
        created_by=by,
    )
    objective.full_clean()
    objective.save()
    objective.contributing_agencies.set(contributors)
    _reread_or_rollback(objective, by)
    record(
        actor=by,
        action="objective.created",
        obj=objective,
        after=audit.snapshot(objective, OBJECTIVE_FIELDS),
    )
    return objective


@transaction.atomic
def update_objective(
    *,
    objective: Objective,
    by: User,
    contributing_agencies: Iterable[Agency] | None = None,
    **changes: Any,
) -> Objective:
    """Edit an objective (status, priority, dates, marking, owner, contributors)."""
    require(by, "change", objective)
    unknown = set(changes) - set(OBJECTIVE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    objective = lock_in_task_force(
        Objective.objects.select_related("task_force"),
        objective.pk,
        task_force_id=objective.task_force_id,
    )
    before = audit.snapshot(objective, OBJECTIVE_FIELDS)
    if "status" in changes and changes["status"] != objective.status:
        # checked under the lock: the status it moves from is the one it has now
        OBJECTIVE.check(objective.status, changes["status"])
    if "marking" in changes:
        _check_marking(changes["marking"], by, objective.task_force)
    if "period" in changes:
        _check_period_of(changes["period"], objective.task_force_id)
    contributors = _check_agencies(
        objective.task_force, changes.get("owner_agency"), contributing_agencies or []
    )
    changed = _apply_changes(objective, changes)
    objective.full_clean()
    if changed:
        objective.save(update_fields=[*changed, "updated_at"])
    if contributing_agencies is not None:
        objective.contributing_agencies.set(contributors)
    _reread_or_rollback(objective, by)
    record(
        actor=by,
        action="objective.updated",
        obj=objective,
        before=before,
        after=audit.snapshot(objective, OBJECTIVE_FIELDS),
    )
    if before["status"] != objective.status:
        troubled = objective.status in (Objective.Status.AT_RISK, Objective.Status.OFF_TRACK)
        notifications.emit(
            "objective.at_risk" if troubled else "objective.status_changed",
            objective,
            actor=by,
            data={"old_status": before["status"]},
        )
    return objective


TASK_FIELDS = (
    "title",
    "description",
    "assignee",
    "assigned_role",
    "due_date",
    "status",
    "period",
)


def _check_task_assignee(objective: Objective, assignee: User | None, role: Role | None) -> None:
    if assignee is not None and role is not None:
        raise ValidationError({"assignee": "Assign the task to a person or to a role, not both."})
    if role is not None and role.task_force_id != objective.task_force_id:
        raise ValidationError({"assigned_role": "That role belongs to another task force."})
    if assignee is not None and not can(assignee, "view", objective):
        raise ValidationError(
            {"assignee": f"{assignee} cannot see this objective, so cannot be given its tasks."}
        )


@transaction.atomic
def create_task(
    *,
    objective: Objective,
    title: str,
    by: User,
    description: str = "",
    assignee: User | None = None,
    assigned_role: Role | None = None,
    due_date: datetime.date | None = None,
    status: str = Task.Status.TODO,
    period: OperationalPeriod | None = None,
) -> Task:
    """Add a task under an objective, for a person or a role, optionally tied to one of
    the task force's operational periods."""
    require(by, "view", objective)
    require(by, "manage_tasks", objective.task_force)
    lock_task_forces([objective.task_force_id])
    _check_task_assignee(objective, assignee, assigned_role)
    _check_period_of(period, objective.task_force_id)
    task = Task(
        objective=objective,
        task_force_id=objective.task_force_id,
        title=title.strip(),
        description=description.strip(),
        assignee=assignee,
        assigned_role=assigned_role,
        due_date=due_date,
        status=status,
        period=period,
        created_by=by,
    )
    task.full_clean()
    task.save()
    _reread_or_rollback(task, by)
    record(actor=by, action="task.created", obj=task, after=audit.snapshot(task, TASK_FIELDS))
    if task.assignee_id or task.assigned_role_id:
        notifications.emit("task.assigned", task, actor=by)
    return task


@transaction.atomic
def update_task(*, task: Task, by: User, **changes: Any) -> Task:
    """Edit a task. Its assignee (or a holder of its role) may change its status;
    task managers may change everything."""
    require(by, "change", task)
    unknown = set(changes) - set(TASK_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    task = lock_in_task_force(
        Task.objects.select_related("objective", "task_force"),
        task.pk,
        task_force_id=task.task_force_id,
    )
    if set(changes) - {"status"} and not can(by, "manage_tasks", task.task_force):
        raise PermissionDenied("Only task managers may change more than a task's status.")
    before = audit.snapshot(task, TASK_FIELDS)
    if "status" in changes and changes["status"] != task.status:
        TASK.check(task.status, changes["status"])
    if "assignee" in changes or "assigned_role" in changes:
        _check_task_assignee(
            task.objective,
            changes.get("assignee", task.assignee),
            changes.get("assigned_role", task.assigned_role),
        )
    if "period" in changes:
        _check_period_of(changes["period"], task.task_force_id)
    changed = _apply_changes(task, changes)
    task.full_clean()
    if changed:
        task.save(update_fields=[*changed, "updated_at"])
    record(
        actor=by,
        action="task.updated",
        obj=task,
        before=before,
        after=audit.snapshot(task, TASK_FIELDS),
    )
    reassigned = (before["assignee"], before["assigned_role"]) != (
        task.assignee_id,
        task.assigned_role_id,
    )
    if reassigned and (task.assignee_id or task.assigned_role_id):
        notifications.emit("task.assigned", task, actor=by)
    return task
