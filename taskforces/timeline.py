"""The timeline of a task force: how the services write it, and the words it is shown in.

Every service that changes something inside a task force records its audit event and its
timeline entry with one call (:func:`record`, through ``services._common.record``), in
its own transaction: an entry exists exactly when the change committed. Which audited
actions are timeline events, and what each is called, is said once here (``ACTIONS``);
the ICS 214 activity log reads the same entries (``taskforces.reports.builders``).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Model, Q
from django.utils import timezone

from coordination.permissions.markings import Marking

from .models import (
    Acknowledgement,
    HandoverBrief,
    Objective,
    Participation,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)

K = TimelineEntry.Kind

# audited action → (kind, what happened in words); an action not listed here (exports,
# sign-ins, ...) is in the audit trail only
ACTIONS: dict[str, tuple[str, str]] = {
    "taskforce.formed": (K.TASK_FORCE, "Formed the task force"),
    "taskforce.updated": (K.TASK_FORCE, "Edited the task force"),
    "taskforce.status_changed": (K.TASK_FORCE, "Changed the task force's status"),
    "participation.invited": (K.PARTICIPATION, "Invited an agency"),
    "participation.accepted": (K.PARTICIPATION, "Accepted the invitation"),
    "participation.declined": (K.PARTICIPATION, "Declined the invitation"),
    "participation.withdrawn": (K.PARTICIPATION, "Withdrew an agency"),
    "role.created": (K.ROLE, "Added a role"),
    "role.updated": (K.ROLE, "Changed a role"),
    "assignment.created": (K.ASSIGNMENT, "Assigned a role"),
    "assignment.ended": (K.ASSIGNMENT, "Ended a role assignment"),
    "assignment.end_date_set": (K.ASSIGNMENT, "Set a role assignment's end"),
    "assignment.recertified": (K.ASSIGNMENT, "Recertified a role assignment"),
    "objective.created": (K.OBJECTIVE, "Created an objective"),
    "objective.updated": (K.OBJECTIVE, "Updated an objective"),
    "task.created": (K.TASK, "Created a task"),
    "task.updated": (K.TASK, "Updated a task"),
    "update.posted": (K.UPDATE, "Posted update"),
    "update.acknowledged": (K.ACKNOWLEDGEMENT, "Acknowledged an update"),
    "period.created": (K.PERIOD, "Planned an operational period"),
    "period.updated": (K.PERIOD, "Changed an operational period"),
    "period.deleted": (K.PERIOD, "Removed an operational period"),
    "handover.submitted": (K.HANDOVER, "Wrote a handover brief"),
    "handover.acknowledged": (K.HANDOVER, "Acknowledged a handover brief"),
    "log.written": (K.LOG, "Log entry"),
    "decision.written": (K.DECISION, "Decision"),
}

# status values are shown; other changed fields only by name (their values may be long or
# marked higher than the entry)
SHOWN_VALUES = ("status",)
STATUS_LABELS: dict[str, dict[str, str]] = {
    "taskforces.objective": dict(Objective.Status.choices),
    "taskforces.task": dict(Task.Status.choices),
    "taskforces.taskforce": dict(TaskForce.Status.choices),
    "taskforces.participation": dict(Participation.Status.choices),
}


def _plain(value: Any, object_type: str = "") -> str:
    label = STATUS_LABELS.get(object_type, {}).get(str(value))
    return (label or str(value).replace("_", " ")).lower()


def excerpt(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changes_in_words(before: Any, after: Any, object_type: str) -> str:
    """ "Changed status from to do to in progress, due date": the fields that differ."""
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return ""
    changed = []
    for key in after:
        if key in before and before[key] != after[key]:
            shown = (
                f" from {_plain(before[key], object_type)} to {_plain(after[key], object_type)}"
                if key in SHOWN_VALUES
                else ""
            )
            changed.append(f"{key.replace('_', ' ')}{shown}")
    return f"Changed {', '.join(changed)}" if changed else ""


def task_force_id_of(obj: Model) -> int:
    if isinstance(obj, TaskForce):
        return int(obj.pk)
    if isinstance(obj, RoleAssignment):
        return int(obj.role.task_force_id)
    return int(obj.task_force_id)  # type: ignore[attr-defined]


def marking_of(obj: Model) -> tuple[int, bool]:
    """The marking an entry about ``obj`` carries, and whether it is the item's own (the
    viewer's ceiling applies) or the task force's (whoever sees the task force sees it)."""
    if isinstance(obj, (Objective, Task, Update, HandoverBrief)):
        return int(obj.marking), True
    if isinstance(obj, Acknowledgement):
        return int(obj.update.marking), True
    task_force = obj if isinstance(obj, TaskForce) else None
    if task_force is None:
        task_force = TaskForce.objects.only("marking").get(pk=task_force_id_of(obj))
    return int(task_force.marking), False


def record(
    *,
    actor: Any,
    action: str,
    obj: Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime.datetime | None = None,
) -> TimelineEntry | None:
    """Write the timeline entry of an audited change inside a task force (in the caller's
    transaction), or nothing when the action is not a timeline event."""
    if action not in ACTIONS:
        return None
    if before is not None and after is not None and before == after:
        return None  # saved unchanged: nothing happened that belongs on the timeline
    kind, summary = ACTIONS[action]
    marking, marked = marking_of(obj)
    object_type = obj._meta.label_lower
    text = changes_in_words(before, after, object_type)
    subject = str(obj)
    if isinstance(obj, Update) and action == "update.posted":
        summary = f"Posted {obj.get_kind_display().lower()}"
        text = excerpt(obj.body)
    elif isinstance(obj, RoleAssignment) and action == "assignment.ended":
        text = obj.end_reason
    elif action == "taskforce.updated" and isinstance(obj, TaskForce):
        _follow_task_force_marking(obj)
    elif action == "objective.updated" and isinstance(obj, Objective):
        _follow_objective_marking(obj)
    entry = TimelineEntry(
        task_force_id=task_force_id_of(obj),
        kind=kind,
        action=action,
        summary=summary,
        occurred_at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=str(actor) if getattr(actor, "pk", None) else "Concord",
        object_type=object_type,
        object_id=obj.pk,
        subject=subject[:300],
        text=text,
        marking=marking,
        marked=marked,
    )
    entry.save()
    return entry


def _follow_task_force_marking(task_force: TaskForce) -> None:
    """Entries about the task force's own business show its marking as it is now."""
    TimelineEntry.objects.filter(task_force=task_force, marked=False).exclude(
        marking=task_force.marking
    ).update(marking=task_force.marking, changed_at=timezone.now())


def _follow_objective_marking(objective: Objective) -> None:
    """Entries about an objective and its tasks carry the objective's marking as it is
    now (its tasks follow it, ``Task`` says why), so a re-marked objective's history is
    seen by exactly the people who may see the objective."""
    task_ids = list(objective.tasks.values_list("pk", flat=True))
    about = Q(object_type="taskforces.objective", object_id=objective.pk) | Q(
        object_type="taskforces.task", object_id__in=task_ids
    )
    TimelineEntry.objects.filter(about, task_force_id=objective.task_force_id).exclude(
        marking=objective.marking
    ).update(marking=objective.marking, changed_at=timezone.now())


def marking_label(value: int) -> str:
    return Marking(value).label
