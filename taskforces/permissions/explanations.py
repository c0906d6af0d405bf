"""Why a person holds a capability in a task force (or not): the chain of assignment, role,
capability, agency and participation, in words."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from agencies.models import Agency
from agencies.selectors import membership_of
from coordination.permissions import Step

from ..access import granted
from ..models import Capability, Participation, RoleAssignment, TaskForce
from ._common import current_assignments


def _task_force_chain(
    user: Any, task_force: TaskForce, capability: Capability
) -> tuple[list[Step], bool]:
    """Assignment → role → capability, with the agency and participation checks, in words."""
    steps: list[Step] = []
    membership = membership_of(user)
    if membership is None:
        return [
            Step(
                "You do not belong to any agency, so you hold no role anywhere"
                + (
                    " (being a portal administrator gives no access inside task forces)."
                    if getattr(user, "is_portal_admin", False)
                    else "."
                ),
                False,
            )
        ], False
    agency = membership.agency
    steps.append(Step(f"You are {membership.get_role_display().lower()} of {agency}.", True))
    if agency.status != Agency.Status.ACTIVE:
        steps.append(
            Step(
                f"{agency} is {agency.get_status_display().lower()}: its people have no access.",
                False,
            )
        )
        return steps, False
    participation = Participation.objects.filter(task_force=task_force, agency=agency).first()
    if participation is None or participation.status != Participation.Status.ACCEPTED:
        state = participation.get_status_display().lower() if participation else "not invited"
        steps.append(Step(f"{agency} does not take part in {task_force} ({state}).", False))
        return steps, False
    lead = " as lead agency" if task_force.lead_agency_id == agency.pk else ""
    steps.append(Step(f"{agency} takes part in {task_force}{lead}.", True))

    now = timezone.now()
    # the roles the rule counts: those behind the person's access (read once per request,
    # ``current_assignments``), and the others for the story
    current = list(
        current_assignments(user)
        .filter(role__task_force=task_force)
        .select_related("role", "assigned_by")
        .order_by("-starts_at")
    )
    if not current:
        assignments = list(
            RoleAssignment.objects.filter(person=user, role__task_force=task_force)
            .select_related("role")
            .order_by("-starts_at")
        )
        past = assignments[0] if assignments else None
        if past is not None and past.ended_at is not None:
            why = f" ({past.end_reason})" if past.end_reason else ""
            text = f"Your role {past.role.name} ended on {past.ended_at:%d %b %Y}{why}; you hold no current role in {task_force}."
        elif past is not None and past.ends_at is not None and past.ends_at <= now:
            text = f"Your role {past.role.name} expired on {past.ends_at:%d %b %Y}; you hold no current role in {task_force}."
        elif past is not None and past.starts_at > now:
            text = f"Your role {past.role.name} starts on {past.starts_at:%d %b %Y}; until then you hold no role in {task_force}."
        else:
            text = f"You hold no role in {task_force}."
        steps.append(Step(text, False))
        return steps, False
    grants = granted(a.role.group_id for a in current)
    granted_by = [a for a in current if capability.value in grants.get(a.role.group_id, ())]
    for assignment in granted_by or current:
        by = f", assigned by {assignment.assigned_by}" if assignment.assigned_by else ""
        until = f" until {assignment.ends_at:%d %b %Y}" if assignment.ends_at else ""
        steps.append(Step(f"You hold the role {assignment.role.name}{by}{until}.", True))
    if granted_by:
        names = ", ".join(a.role.name for a in granted_by)
        noun = "roles" if len(granted_by) > 1 else "role"
        verb = "include" if len(granted_by) > 1 else "includes"
        steps.append(Step(f"The {noun} {names} {verb} the capability “{capability.label}”.", True))
        return steps, True
    steps.append(
        Step(
            f"None of your roles in {task_force} includes the capability “{capability.label}”.",
            False,
        )
    )
    return steps, False
