"""Audiences: the permission core's answer turned round ("who may see this?"), for
notifications and acknowledgements."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from coordination.permissions.markings import Marking

from ..access import ceilings, holding_ids
from ..models import (
    Capability,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    TaskForce,
    TimelineEntry,
    Update,
)


def holders(
    task_force: TaskForce,
    capability: str = Capability.VIEW,
    *,
    agency_ids: list[int] | None = None,
) -> QuerySet[Any]:
    """People who hold ``capability`` on the task force now (of ``agency_ids`` only, when
    given): the access rule (``taskforces.access``) anchored on the task force instead of
    on a person."""
    from coordination.models import User

    where = (
        "r.task_force_id = %s AND EXISTS (SELECT 1 FROM "
        "taskforces_taskforcegroupobjectpermission g JOIN auth_permission p "
        "ON p.id = g.permission_id WHERE g.group_id = r.group_id "
        "AND g.content_object_id = r.task_force_id AND p.codename = %s)"
    )
    params: list[Any] = [task_force.pk, capability]
    if agency_ids is not None:
        if not agency_ids:
            return User.objects.none()
        where += f" AND ra.agency_id IN ({', '.join(['%s'] * len(agency_ids))})"
        params += [int(a) for a in agency_ids]
    people = holding_ids(timezone.now(), where=where, params=params, select="ra.person_id")
    return User.objects.filter(pk__in=people)


def audience(obj: Any) -> QuerySet[Any]:
    """Everyone who may view ``obj`` (a task force or anything in one): the access rule
    anchored on the object, in a constant number of queries — the holders of "view"
    there whose agency's ceiling covers the item's marking (and of "view restricted" for
    TLP:RED)."""
    if isinstance(obj, TaskForce):
        return holders(obj)
    task_force = obj.task_force
    if isinstance(obj, (Role, OperationalPeriod)):  # seen by whoever sees the task force
        return holders(task_force)
    if isinstance(obj, TimelineEntry) and not obj.marked:  # the task force's own business
        return holders(task_force)
    marking = int(obj.marking)
    accepted = list(
        Participation.objects.filter(
            task_force=task_force, status=Participation.Status.ACCEPTED
        ).values_list("agency_id", flat=True)
    )
    found = ceilings(
        ((agency, task_force.pk, task_force.lead_agency_id) for agency in accepted),
        timezone.localdate(),
    )
    cleared = sorted(a for a in accepted if found[(a, task_force.pk)].marking >= marking)
    people = holders(task_force, agency_ids=cleared)
    if marking >= Marking.RED:
        restricted = holders(task_force, Capability.VIEW_RESTRICTED, agency_ids=cleared)
        people = people.filter(pk__in=restricted.values("pk"))
    return people


def acknowledgement_audience(update: Update) -> QuerySet[Any]:
    """Everyone an update asks to acknowledge it, among those who may see it (no one,
    when it asks for no acknowledgement)."""
    if not update.requires_acknowledgement:
        return audience(update).none()
    people = audience(update)
    roles = list(update.ack_roles.values_list("pk", flat=True))
    agencies = list(update.ack_agencies.values_list("pk", flat=True))
    if not roles and not agencies:
        return people
    in_roles = RoleAssignment.objects.current().filter(role_id__in=roles).values("person_id")
    return people.filter(
        Q(pk__in=in_roles) | Q(memberships__agency_id__in=agencies, memberships__is_active=True)
    ).distinct()
