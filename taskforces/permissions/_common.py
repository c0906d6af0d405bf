"""What every policy of the task forces asks of a person's access: the capability each action
needs, and whether the person holds it (from ``taskforces.access``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet

from coordination.permissions import InList

from ..access import access_for
from ..models import Capability, Objective, RoleAssignment, Task, TimelineEntry, Update

# What each item action needs on the item's task force.
TASK_FORCE_ACTIONS: dict[str, str] = {
    "view": Capability.VIEW,
    "change": Capability.CHANGE,
    "manage_participation": Capability.MANAGE_PARTICIPATION,
    "assign_roles": Capability.ASSIGN_ROLES,
    "manage_objectives": Capability.MANAGE_OBJECTIVES,
    "manage_tasks": Capability.MANAGE_TASKS,
    "post_updates": Capability.POST_UPDATES,
    "view_restricted": Capability.VIEW_RESTRICTED,
}
ITEM_CHANGE_CAPABILITY: dict[type, str] = {
    Objective: Capability.MANAGE_OBJECTIVES,
    Task: Capability.MANAGE_TASKS,
    Update: Capability.CHANGE,
    # marking an entry significant
    TimelineEntry: Capability.POST_UPDATES,
}


def current_assignments(
    user: Any, now: datetime.datetime | None = None
) -> QuerySet[RoleAssignment]:
    """The person's assignments that confer their role right now (at ``now``), for listing
    them: those behind their access, which ``taskforces.access.compute`` finds with every
    condition (validity window, active account, membership and agency, participation
    accepted) — defined there once."""
    held = access_for(user, now)
    if held.agency_id is None:  # no active agency: nothing is held
        return RoleAssignment.objects.none()
    return RoleAssignment.objects.current(now).filter(
        InList("role_id", sorted(held.role_ids)), person_id=user.pk, agency_id=held.agency_id
    )


def task_force_ids_with(user: Any, capability: str, *, writable: bool = False) -> list[int]:
    """Ids of task forces where the person has ``capability`` now (not closed ones, when
    ``writable``), from their kept access (``taskforces.access``)."""
    return access_for(user).task_forces(capability, writable=writable)


def _holds(user: Any, task_force_id: int, capability: str) -> bool:
    """Does the person hold ``capability`` in the task force, from their access (and, for
    a capability that changes things, is the task force still open)?"""
    writable = capability not in (Capability.VIEW, Capability.VIEW_RESTRICTED)
    return task_force_id in access_for(user).task_forces(capability, writable=writable)
