"""Handover between operational periods: the outgoing holder of a role writes a brief, a
holder of the same role in the next period acknowledges it.

Locks follow the one order (docs/decisions/0002): the task force first, then the
assignment (writing) or the brief (acknowledging) under it. Acknowledging twice at once
(two incoming holders, or a double click) is decided under the brief's lock: the second
finds it acknowledged and is refused, so the audit event, the timeline entry and the
notifications happen once.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from coordination import notifications
from coordination.models import User
from coordination.permissions import PermissionDenied, require

from ..models import HandoverBrief, OperationalPeriod, RoleAssignment, Task
from ._common import _check_marking, _reread_or_rollback, record
from .locks import lock_in_task_force

BRIEF_FIELDS = ("open_tasks", "risks", "contacts", "notes", "marking")
OPEN = (Task.Status.TODO, Task.Status.IN_PROGRESS, Task.Status.BLOCKED)


def next_period_of(period: OperationalPeriod) -> OperationalPeriod | None:
    """The operational period after ``period`` (the next number) in its task force."""
    return (
        OperationalPeriod.objects.filter(
            task_force_id=period.task_force_id, number__gt=period.number
        )
        .order_by("number")
        .first()
    )


def holders_during(period: OperationalPeriod) -> QuerySet[RoleAssignment]:
    """The task force's assignments that confer their role at some moment of the period:
    who hands over at its end, or who takes over at its start."""
    return RoleAssignment.objects.filter(role__task_force_id=period.task_force_id).during(
        period.starts_at, period.ends_at
    )


def outgoing(period: OperationalPeriod) -> QuerySet[RoleAssignment]:
    """The assignments that must hand over at the end of the period: held during it and
    not during the next (a holder who stays on continues, and needs no brief; with no
    next period planned, nobody can hand over yet)."""
    following = next_period_of(period)
    if following is None:
        return RoleAssignment.objects.none()
    staying = holders_during(following).values("pk")
    return holders_during(period).exclude(pk__in=staying)


def open_tasks_text(assignment: RoleAssignment, viewer: User) -> str:
    """The prefilled "open tasks" of a brief: the open tasks of the task force assigned to
    the holder or to their role that the writer may see, one a line."""
    tasks = (
        Task.objects.restrict(viewer, "view")
        .filter(task_force_id=assignment.role.task_force_id, status__in=OPEN)
        .filter(Q(assignee_id=assignment.person_id) | Q(assigned_role_id=assignment.role_id))
        .order_by(F("due_date").asc(nulls_last=True), "id")
    )
    lines = []
    for task in tasks[:50]:
        due = f", due {task.due_date:%d %b %Y}" if task.due_date else ""
        lines.append(f"- {task.title} ({task.get_status_display().lower()}{due})")
    return "\n".join(lines)


@transaction.atomic
def write_handover_brief(
    *,
    assignment: RoleAssignment,
    period: OperationalPeriod,
    by: User,
    open_tasks: str = "",
    risks: str = "",
    contacts: str = "",
    notes: str = "",
    marking: int | None = None,
) -> HandoverBrief:
    """The outgoing holder of a role (the assignment's person, who held it during the
    period) writes the handover brief for the next period, once per assignment and
    period; the holders of the role in the next period are told it awaits them. A holder
    who stays on may write one too (for a co-holder who takes part of the role over); only
    those who leave must (``outgoing``)."""
    task_force = period.task_force
    assignment = lock_in_task_force(
        RoleAssignment.objects.select_related("role"), assignment.pk, task_force_id=task_force.pk
    )
    require(by, "view", task_force)
    if task_force.is_closed:
        raise PermissionDenied(f"{task_force} is closed: nothing in it can be changed.")
    if assignment.role.task_force_id != task_force.pk:
        raise ValidationError({"assignment": "That role belongs to another task force."})
    if assignment.person_id != by.pk:
        raise PermissionDenied("Only the holder of the role writes its handover brief.")
    if not holders_during(period).filter(pk=assignment.pk).exists():
        raise ValidationError(
            {
                "assignment": f"You did not hold {assignment.role.name} during operational period {period.number}."
            }
        )
    following = next_period_of(period)
    if following is None:
        raise ValidationError(
            {
                "period": f"There is no operational period after period {period.number} to hand over to."
            }
        )
    if HandoverBrief.objects.filter(assignment=assignment, period=period).exists():
        raise ValidationError(
            {"assignment": "You have already handed this role over for this period."}
        )
    marking = int(task_force.marking) if marking is None else marking
    _check_marking(marking, by, task_force)
    brief = HandoverBrief(
        task_force=task_force,
        period=period,
        next_period=following,
        role=assignment.role,
        assignment=assignment,
        written_by=by,
        open_tasks=open_tasks.strip(),
        risks=risks.strip(),
        contacts=contacts.strip(),
        notes=notes.strip(),
        marking=marking,
    )
    brief.full_clean(validate_constraints=False)
    brief.save()
    _reread_or_rollback(brief, by)
    record(
        actor=by,
        action="handover.submitted",
        obj=brief,
        after={"role": assignment.role_id, "period": period.number, "marking": marking},
    )
    notifications.emit("handover.submitted", brief, actor=by)
    return brief


def incoming_assignments(brief: HandoverBrief) -> QuerySet[RoleAssignment]:
    """The assignments to the brief's role in the next period, other than its writer's:
    the people who take the role over."""
    return (
        RoleAssignment.objects.filter(role_id=brief.role_id)
        .during(brief.next_period.starts_at, brief.next_period.ends_at)
        .exclude(person_id=brief.written_by_id)
    )


def taken_over_by(person: User) -> Exists:
    """Condition on briefs: ``person`` holds the brief's role in its next period (one
    subquery, for the list of briefs awaiting their acknowledgement; the same condition as
    ``incoming_assignments``)."""
    starts, ends = OuterRef("next_period__starts_at"), OuterRef("next_period__ends_at")
    return Exists(
        RoleAssignment.objects.filter(
            role_id=OuterRef("role_id"), person_id=person.pk, starts_at__lt=ends
        )
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=starts))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=starts))
    )


@transaction.atomic
def acknowledge_handover(*, brief: HandoverBrief, by: User) -> HandoverBrief:
    """A holder of the brief's role in the next period acknowledges it, once. When it is
    the last brief of its period to be acknowledged, and every role held in the period
    has handed over, the commanders are told the handover is complete."""
    brief = lock_in_task_force(
        HandoverBrief.objects.select_related("next_period", "period", "role", "task_force"),
        brief.pk,
        task_force_id=brief.task_force_id,
    )
    require(by, "view", brief)
    if brief.task_force.is_closed:
        raise PermissionDenied(f"{brief.task_force} is closed: nothing in it can be changed.")
    if not incoming_assignments(brief).filter(person_id=by.pk).exists():
        raise PermissionDenied(
            f"Only a holder of {brief.role.name} in operational period "
            f"{brief.next_period.number} (other than its writer) acknowledges this brief."
        )
    if brief.acknowledged_at is not None:
        raise ValidationError(
            {
                "brief": f"{brief.acknowledged_by} already acknowledged this brief at "
                f"{timezone.localtime(brief.acknowledged_at):%d %b %Y %H:%M}."
            }
        )
    brief.acknowledged_by = by
    brief.acknowledged_at = timezone.now()
    brief.save(update_fields=["acknowledged_by", "acknowledged_at"])
    record(
        actor=by,
        action="handover.acknowledged",
        obj=brief,
        before={"acknowledged": False},
        after={"acknowledged": True},
    )
    if handover_complete(brief.period):
        # under the task force's lock: only the transaction that acknowledges the last
        # brief sees the handover complete, and the key makes the event once per period
        notifications.emit(
            "handover.complete",
            brief.period,
            actor=by,
            key=f"handover.complete:{brief.period_id}",
        )
    return brief


def handover_complete(period: OperationalPeriod) -> bool:
    """Every assignment that must hand over at the end of the period (``outgoing``) has
    written its brief, and every brief of the period is acknowledged."""
    briefs = HandoverBrief.objects.filter(period=period)
    return (
        not briefs.filter(acknowledged_at__isnull=True).exists()
        and not outgoing(period).exclude(pk__in=briefs.values("assignment_id")).exists()
    )
