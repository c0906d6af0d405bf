"""Role assignments: assigning people to roles under the holder limit, ending, expiring and
recertifying them."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agencies.models import Agency
from agencies.selectors import membership_of
from coordination import notifications
from coordination.models import User
from coordination.permissions import PermissionDenied, require
from coordination.validators import validate_fields

from ..models import Role, RoleAssignment, TaskForce
from ._common import _accepted_agency_ids, _liaison_membership, record
from .locks import lock_in_task_force, lock_task_forces


def _eligible(role: Role, agency: Agency) -> bool:
    eligible = list(role.eligible_agencies.values_list("pk", flat=True))
    return not eligible or agency.pk in eligible


def _create_assignment(
    *,
    role: Role,
    person: User,
    agency: Agency,
    assigned_by: User,
    starts_at: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> RoleAssignment:
    """Create an assignment under a lock on the role (after its task force's), so the
    holder limit holds even when two liaison officers assign at the same moment."""
    lock_task_forces([role.task_force_id])
    locked = Role.objects.select_for_update(no_key=True, of=("self",)).get(pk=role.pk)
    now = timezone.now()
    if locked.max_holders is not None:
        holders = RoleAssignment.objects.open(now).filter(role=locked).count()
        if holders >= locked.max_holders:
            raise ValidationError(
                {
                    "role": f"{locked.name} already has its limit of {locked.max_holders} holder{'s' if locked.max_holders != 1 else ''}."
                }
            )
    for lapsed in RoleAssignment.objects.filter(
        role=locked, person=person, ended_at__isnull=True, ends_at__lte=now
    ).select_related("person", "role__group"):
        _end(lapsed, by=None, reason="Expired", at=lapsed.ends_at)
    if RoleAssignment.objects.filter(role=locked, person=person, ended_at__isnull=True).exists():
        raise ValidationError(
            {"person": f"{person} already holds {locked.name} (or has it scheduled)."}
        )
    assignment = RoleAssignment(
        role=locked,
        person=person,
        agency=agency,
        assigned_by=assigned_by,
        starts_at=starts_at or now,
        ends_at=until,
    )
    assignment.full_clean(validate_constraints=False)
    if until is not None and until <= max(now, assignment.starts_at):
        raise ValidationError({"until": "The end must be in the future and after the start."})
    try:
        with transaction.atomic():
            assignment.save()
    except IntegrityError as error:  # the partial unique index, if a check above raced
        raise ValidationError({"person": f"{person} already holds {locked.name}."}) from error
    person.groups.add(locked.group)
    record(
        actor=assigned_by,
        action="assignment.created",
        obj=assignment,
        after={
            "role": locked.pk,
            "person": person.pk,
            "agency": agency.pk,
            "starts_at": assignment.starts_at.isoformat(),
            "ends_at": until.isoformat() if until else None,
        },
    )
    if person.pk != assigned_by.pk:
        notifications.emit("assignment.created", assignment, actor=assigned_by)
    return assignment


@transaction.atomic
def assign_role(
    *,
    role: Role,
    person: User,
    assigned_by: User,
    starts_at: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> RoleAssignment:
    """A liaison officer assigns one of their own agency's people to a role, in a task force
    their agency accepted, if the agency is eligible and the holder limit allows."""
    # the task force first: its participations cannot change while this checks them
    lock_task_forces([role.task_force_id])
    liaison = _liaison_membership(assigned_by)
    agency = liaison.agency
    person_membership = membership_of(person)
    if (
        person_membership is None
        or person_membership.agency_id != agency.pk
        or not person.is_active
    ):
        raise ValidationError(
            {"person": f"You can only assign active people of your own agency, {agency}."}
        )
    task_force = role.task_force
    if task_force.is_closed:
        raise ValidationError({"role": f"{task_force} is closed."})
    if agency.pk not in _accepted_agency_ids(task_force):
        raise PermissionDenied(f"{agency} has not accepted a part in {task_force}.")
    require(assigned_by, "assign_roles", task_force)
    if not _eligible(role, agency):
        raise ValidationError({"role": f"{agency} is not eligible for the role {role.name}."})
    return _create_assignment(
        role=role,
        person=person,
        agency=agency,
        assigned_by=assigned_by,
        starts_at=starts_at,
        until=until,
    )


def _end(
    assignment: RoleAssignment, *, by: User | None, reason: str, at: datetime.datetime | None = None
) -> None:
    assignment.ended_at = at or timezone.now()
    assignment.ended_by = by
    assignment.end_reason = reason
    validate_fields(assignment, {"end_reason": "reason"})
    assignment.save(update_fields=["ended_at", "ended_by", "end_reason"])
    assignment.person.groups.remove(assignment.role.group)
    record(
        actor=by,
        action="assignment.ended",
        obj=assignment,
        before={"ended_at": None},
        after={"ended_at": assignment.ended_at.isoformat(), "reason": reason},
        at=assignment.ended_at,
    )
    notifications.emit("assignment.ended", assignment, actor=by, data={"reason": reason})


def _end_many(assignments: Any, *, by: User | None, reason: str) -> int:
    """End each of ``assignments``: their task forces locked first (lowest id first), then
    the assignments themselves, lowest id first."""
    lock_task_forces(assignments.values_list("role__task_force_id", flat=True))
    count = 0
    for assignment in (
        assignments.select_for_update(no_key=True, of=("self",))
        .select_related("person", "role__group")
        .order_by("pk")
    ):
        _end(assignment, by=by, reason=reason)
        count += 1
    return count


@transaction.atomic
def end_assignment(*, assignment: RoleAssignment, by: User, reason: str) -> RoleAssignment:
    """A liaison officer of the holder's agency (or, from the access review, one of its
    agency administrators) ends an assignment early; access goes at once."""
    require(by, "end", assignment)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason; the holder will be told it."})
    assignment = lock_in_task_force(
        RoleAssignment.objects.select_related("person", "role__group"),
        assignment.pk,
        path="role__task_force_id",
    )
    if assignment.ended_at is not None:
        raise ValidationError({"assignment": "This assignment has already ended."})
    _end(assignment, by=by, reason=reason)
    return assignment


@transaction.atomic
def set_assignment_end(
    *, assignment: RoleAssignment, until: datetime.datetime | None, by: User
) -> RoleAssignment:
    """Set or clear the date an assignment expires."""
    require(by, "change", assignment)
    assignment = lock_in_task_force(
        RoleAssignment.objects.all(), assignment.pk, path="role__task_force_id"
    )
    if assignment.ended_at is not None:
        raise ValidationError({"assignment": "This assignment has already ended."})
    if until is not None and until <= max(timezone.now(), assignment.starts_at):
        raise ValidationError({"until": "The end must be in the future and after the start."})
    before = assignment.ends_at
    assignment.ends_at = until
    validate_fields(assignment, {"ends_at": "until"})
    assignment.save(update_fields=["ends_at"])
    record(
        actor=by,
        action="assignment.end_date_set",
        obj=assignment,
        before={"ends_at": before.isoformat() if before else None},
        after={"ends_at": until.isoformat() if until else None},
    )
    return assignment


RECERTIFY_NOTE_MAX = 2000


@transaction.atomic
def recertify_assignment(
    *, actor: User, assignment: RoleAssignment, note: str = ""
) -> RoleAssignment:
    """An agency administrator of the holder's agency confirms the person still needs the
    role (access review); it falls due again CONCORD_RECERTIFY_DAYS later. Not for one's
    own assignment, nor for one that has ended or expired."""
    require(actor, "recertify", assignment)
    if not isinstance(note, str):
        raise ValidationError({"note": "The note must be text."})
    note = note.strip()
    if len(note) > RECERTIFY_NOTE_MAX:
        raise ValidationError(
            {"note": f"Keep the note to {RECERTIFY_NOTE_MAX} characters or fewer."}
        )
    assignment = lock_in_task_force(
        RoleAssignment.objects.select_related("role", "person", "agency"),
        assignment.pk,
        path="role__task_force_id",
    )
    now = timezone.now()
    if assignment.ended_at is not None:
        raise ValidationError(
            {"assignment": "This assignment has ended: there is nothing to recertify."}
        )
    if assignment.ends_at is not None and assignment.ends_at <= now:
        raise ValidationError(
            {"assignment": "This assignment has expired: there is nothing to recertify."}
        )
    last = assignment.recertified_at
    before = {
        "recertified_at": last.isoformat() if last else None,
        "recertified_by": assignment.recertified_by_id,
    }
    assignment.recertified_at = now
    assignment.recertified_by = actor
    assignment.full_clean(validate_constraints=False)
    assignment.save(update_fields=["recertified_at", "recertified_by"])
    record(
        actor=actor,
        action="assignment.recertified",
        obj=assignment,
        before=before,
        after={"recertified_at": now.isoformat(), "recertified_by": actor.pk, "note": note},
    )
    return assignment


def expire_assignments(*, now: datetime.datetime | None = None) -> int:
    """Close every assignment whose end date has passed (access already stopped at that
    moment: the permission core checks the date). Run by Celery beat every minute, each
    assignment in its own transaction, in the lock order; one whose task force or row is
    busy is left for the next run."""
    now = now or timezone.now()
    due = RoleAssignment.objects.filter(ended_at__isnull=True, ends_at__lte=now)
    count = 0
    for pk, task_force_id in due.order_by("pk").values_list("pk", "role__task_force_id"):
        with transaction.atomic():
            if (
                not TaskForce.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
                .filter(pk=task_force_id)
                .exists()
            ):
                continue
            assignment = (
                due.filter(pk=pk)
                .select_for_update(no_key=True, skip_locked=True, of=("self",))
                .select_related("person", "role__group")
                .first()
            )
            if assignment is not None:
                _end(assignment, by=None, reason="Expired", at=assignment.ends_at)
                count += 1
    return count
