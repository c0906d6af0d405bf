"""Why a person holds a capability in a task force (or not): the chain of assignment, role,
capability, agency and participation, in words."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.utils import timezone

from agencies.models import Agency
from agencies.selectors import membership_of
from coordination import db
from coordination.models import User
from coordination.permissions import Step

from ..access import access_for, granted
from ..models import Capability, Participation, RoleAssignment, TaskForce

# What the story tells is read by two small statements (``coordination.db``: prepared on
# PostgreSQL, plain SQL elsewhere): the agency's participation, and the person's
# assignments in the task force with their role and who assigned them -- a person holds
# few roles in one task force, and the querysets that read them cost ten times their
# statements on every page that explains itself. Which of those assignments count is
# decided as ``current_assignments`` decides it: those behind the person's access.
_PARTICIPATION = (
    "SELECT status FROM taskforces_participation WHERE task_force_id = %s AND agency_id = %s"
)
_OWN = ("role_id", "agency_id", "starts_at", "ends_at", "ended_at", "end_reason")
_ASSIGNMENTS = (
    f"SELECT {db.columns(RoleAssignment, 'ra', _OWN)}, "  # noqa: S608 - our SQL; values are parameters
    "r.name, r.group_id, u.first_name, u.last_name, u.email "
    "FROM taskforces_roleassignment ra JOIN taskforces_role r ON r.id = ra.role_id "
    "LEFT JOIN coordination_user u ON u.id = ra.assigned_by_id "
    "WHERE ra.person_id = %s AND r.task_force_id = %s ORDER BY ra.starts_at DESC, ra.id DESC"
)


class _Held(NamedTuple):
    """One of the person's assignments in the task force, as the story tells it."""

    assignment: RoleAssignment  # (only the columns in _OWN)
    role: str
    group_id: int
    assigned_by: str | None


def _assignments(user: Any, task_force: TaskForce) -> list[_Held]:
    """The person's assignments in the task force, newest first."""
    make = db.maker(RoleAssignment, _OWN)
    found = []
    for row in db.fetch_all(_ASSIGNMENTS, (user.pk, task_force.pk)):
        role, group_id, first_name, last_name, email = row[len(_OWN) :]
        by = None if email is None else User.name_of(first_name, last_name, email)
        found.append(_Held(make(row[: len(_OWN)]), role, group_id, by))
    return found


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
    found = db.fetch_all(_PARTICIPATION, (task_force.pk, agency.pk))
    status = Participation.Status(found[0][0]) if found else None
    if status != Participation.Status.ACCEPTED:
        state = status.label.lower() if status else "not invited"
        steps.append(Step(f"{agency} does not take part in {task_force} ({state}).", False))
        return steps, False
    lead = " as lead agency" if task_force.lead_agency_id == agency.pk else ""
    steps.append(Step(f"{agency} takes part in {task_force}{lead}.", True))

    now = timezone.now()
    # newest first; those the rule counts (behind the person's access, as
    # ``current_assignments`` lists them), the others for the story
    assignments = _assignments(user, task_force)
    held = access_for(user)
    current = [
        a
        for a in assignments
        if a.assignment.role_id in held.role_ids
        and a.assignment.agency_id == held.agency_id
        and a.assignment.is_current(now)
    ]
    if not current:
        past = assignments[0].assignment if assignments else None
        name = assignments[0].role if assignments else ""
        if past is not None and past.ended_at is not None:
            why = f" ({past.end_reason})" if past.end_reason else ""
            text = f"Your role {name} ended on {past.ended_at:%d %b %Y}{why}; you hold no current role in {task_force}."
        elif past is not None and past.ends_at is not None and past.ends_at <= now:
            text = f"Your role {name} expired on {past.ends_at:%d %b %Y}; you hold no current role in {task_force}."
        elif past is not None and past.starts_at > now:
            text = f"Your role {name} starts on {past.starts_at:%d %b %Y}; until then you hold no role in {task_force}."
        else:
            text = f"You hold no role in {task_force}."
        steps.append(Step(text, False))
        return steps, False
    grants = granted(a.group_id for a in current)
    granted_by = [a for a in current if capability.value in grants.get(a.group_id, ())]
    for assignment in granted_by or current:
        by = f", assigned by {assignment.assigned_by}" if assignment.assigned_by else ""
        ends_at = assignment.assignment.ends_at
        until = f" until {ends_at:%d %b %Y}" if ends_at else ""
        steps.append(Step(f"You hold the role {assignment.role}{by}{until}.", True))
    if granted_by:
        names = ", ".join(a.role for a in granted_by)
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
