"""Every change inside task forces. Views, forms, serializers, admin and tasks call these.

Each service is atomic, validates before saving, checks the actor through the permission
core and records an audit event in the same transaction.

Locks are taken in one order, everywhere (docs/decisions/0002-one-lock-order.md):
account → agency → membership → **task force** → participation → role → assignment →
objective → task → update, and among rows of one kind the lowest id first. Every service
that changes anything inside a task force locks the task force's row first
(:func:`lock_task_forces`, ``FOR NO KEY UPDATE``): writes inside one task force take
turns, writes into different task forces never wait for each other, and the database's
own bookkeeping of the task force (its content version, moved by triggers) finds the lock
already held.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Model
from django.utils import timezone

from agencies.models import Agency, Membership, OffboardingJob
from agencies.selectors import membership_of
from coordination import audit, notifications
from coordination.markings import Marking
from coordination.models import Event, User
from coordination.permissions import PermissionDenied, can, explain, require
from coordination.validators import validate_fields

from ..access import access_for
from ..catalogue import DEFAULT_ROLE_TEMPLATES
from ..models import (
    Acknowledgement,
    Capability,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    RoleTemplate,
    Task,
    TaskForce,
    TaskForceGroupObjectPermission,
    Update,
)
from ..permissions import _ceiling_for

TF = TaskForce.Status
P = Participation.Status

TASK_FORCE_TRANSITIONS = {
    (TF.FORMING, TF.ACTIVE),
    (TF.FORMING, TF.CLOSED),
    (TF.ACTIVE, TF.STANDING_DOWN),
    (TF.STANDING_DOWN, TF.ACTIVE),
    (TF.STANDING_DOWN, TF.CLOSED),
}


def lock_task_forces(ids: Iterable[int]) -> None:
    """Lock these task forces' rows, lowest id first, until the transaction ends: the step
    every write inside a task force starts with (see the module docstring)."""
    wanted = sorted({int(i) for i in ids})
    if wanted:
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


def _reread_or_rollback(obj: Model, user: User) -> None:
    """After a write, the writer must still be able to see what they wrote; otherwise the
    whole transaction is undone (a guard against writing what one may not see)."""
    if not type(obj)._default_manager.filter(pk=obj.pk).restrict(user, "view").exists():  # type: ignore[attr-defined]
        raise PermissionDenied(explain(user, "view", obj), obj=obj)


def _check_marking(value: int, by: User, task_force: TaskForce) -> None:
    if value not in Marking.values:
        raise ValidationError({"marking": "Choose a TLP marking."})
    ceiling, _ = _ceiling_for(by, task_force)
    if value > ceiling:
        raise ValidationError(
            {
                "marking": f"Your agency may not share above {Marking(ceiling).label} in this task force."
            }
        )
    if value == Marking.RED and not can(by, "view_restricted", task_force):
        raise ValidationError(
            {"marking": "Only holders of a role that may view restricted items may mark TLP:RED."}
        )


def _accepted_agency_ids(task_force: TaskForce) -> set[int]:
    return set(
        Participation.objects.filter(task_force=task_force, status=P.ACCEPTED).values_list(
            "agency_id", flat=True
        )
    )


# --- role catalogue and roles --------------------------------------------------------------


def _validate_capabilities(capabilities: Iterable[str]) -> list[str]:
    values = list(dict.fromkeys(capabilities))
    unknown = [c for c in values if c not in Capability.values]
    if unknown:
        raise ValidationError(
            {"capabilities": f"Unknown capabilities: {', '.join(map(str, unknown))}."}
        )
    if values and Capability.VIEW not in values:
        raise ValidationError(
            {"capabilities": "Every role that can do something must also view the task force."}
        )
    return values


def _check_max_holders(value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            {
                "max_holders": "A limit must be a whole number of at least 1 (leave it empty for none)."
            }
        )


@transaction.atomic
def ensure_role_templates() -> int:
    """Create the default catalogue's templates that are missing; returns how many."""
    created = 0
    for data in DEFAULT_ROLE_TEMPLATES:
        _, was_created = RoleTemplate.objects.get_or_create(slug=data["slug"], defaults=dict(data))
        created += was_created
    return created


def _sync_role_permissions(role: Role) -> None:
    """Make the guardian rows for the role's group match its capabilities (one row per
    capability on the task force: rows grow with roles, never with people)."""
    wanted = set(role.capabilities)
    rows = TaskForceGroupObjectPermission.objects.filter(
        group_id=role.group_id, content_object_id=role.task_force_id
    )
    have = set(rows.values_list("permission__codename", flat=True))
    rows.exclude(permission__codename__in=wanted).delete()
    missing = wanted - have
    if missing:
        permissions = Permission.objects.filter(
            content_type__app_label="taskforces",
            content_type__model="taskforce",
            codename__in=missing,
        )
        TaskForceGroupObjectPermission.objects.bulk_create(
            TaskForceGroupObjectPermission(
                group_id=role.group_id, content_object_id=role.task_force_id, permission=p
            )
            for p in permissions
        )


def _new_role(
    *,
    task_force: TaskForce,
    name: str,
    responsibilities: str,
    capabilities: Sequence[str],
    max_holders: int | None,
    template: RoleTemplate | None = None,
    order: int = 100,
) -> Role:
    group = Group.objects.create(name=f"taskforce-{task_force.pk}-role-{name}"[:150])
    role = Role(
        task_force=task_force,
        template=template,
        name=name.strip(),
        responsibilities=responsibilities.strip(),
        capabilities=_validate_capabilities(capabilities),
        max_holders=max_holders,
        group=group,
        order=order,
    )
    role.full_clean()
    role.save()
    _sync_role_permissions(role)
    return role


@transaction.atomic
def create_role(
    *,
    task_force: TaskForce,
    name: str,
    responsibilities: str,
    capabilities: Sequence[str],
    by: User,
    max_holders: int | None = None,
    eligible_agencies: Iterable[Agency] = (),
) -> Role:
    """Add a custom role to a task force."""
    require(by, "change", task_force)
    lock_task_forces([task_force.pk])
    _check_max_holders(max_holders)
    if Role.objects.filter(task_force=task_force, name__iexact=name.strip()).exists():
        raise ValidationError({"name": "This task force already has a role with this name."})
    role = _new_role(
        task_force=task_force,
        name=name,
        responsibilities=responsibilities,
        capabilities=capabilities,
        max_holders=max_holders,
    )
    eligible = list(eligible_agencies)
    if eligible:
        role.eligible_agencies.set(eligible)
    audit.record(
        actor=by,
        action="role.created",
        obj=role,
        after={
            "capabilities": role.capabilities,
            "max_holders": max_holders,
            "eligible_agencies": [a.pk for a in eligible],
        },
    )
    return role


@transaction.atomic
def update_role(
    *,
    role: Role,
    by: User,
    responsibilities: str | None = None,
    capabilities: Sequence[str] | None = None,
    max_holders: int | object | None = ...,
    eligible_agencies: Iterable[Agency] | None = None,
) -> Role:
    """Change a role's responsibilities, capabilities (granted or revoked at once), holder
    limit or eligible agencies."""
    require(by, "change", role.task_force)
    lock_task_forces([role.task_force_id])
    role = Role.objects.select_for_update(no_key=True, of=("self",)).get(pk=role.pk)
    before = _role_snapshot(role)
    fields: list[str] = []
    if responsibilities is not None:
        role.responsibilities = responsibilities.strip()
        fields.append("responsibilities")
    if capabilities is not None:
        role.capabilities = _validate_capabilities(capabilities)
        fields.append("capabilities")
    if max_holders is not ...:
        _check_max_holders(max_holders)
        if (
            max_holders is not None
            and RoleAssignment.objects.open().filter(role=role).count() > max_holders  # type: ignore[operator]
        ):
            raise ValidationError(
                {"max_holders": "More people hold this role now; end assignments first."}
            )
        role.max_holders = max_holders  # type: ignore[assignment]
        fields.append("max_holders")
    role.full_clean()
    if fields:
        role.save(update_fields=fields)
    if capabilities is not None:
        _sync_role_permissions(role)
    if eligible_agencies is not None:
        role.eligible_agencies.set(list(eligible_agencies))
    audit.record(
        actor=by,
        action="role.updated",
        obj=role,
        before=before,
        after=_role_snapshot(role),
    )
    return role


def _role_snapshot(role: Role) -> dict[str, Any]:
    return {
        "responsibilities": role.responsibilities,
        "capabilities": list(role.capabilities),
        "max_holders": role.max_holders,
        "eligible_agencies": sorted(role.eligible_agencies.values_list("pk", flat=True)),
    }


# --- task forces and participation ---------------------------------------------------------


def _liaison_membership(user: User) -> Membership:
    membership = membership_of(user)
    if membership is None or membership.role != Membership.Role.LIAISON:
        raise PermissionDenied("Only a liaison officer may do this for their agency.")
    if membership.agency.status != Agency.Status.ACTIVE:
        raise PermissionDenied(f"{membership.agency} is not active.")
    return membership


@transaction.atomic
def form_task_force(
    *, name: str, mandate: str, by: User, marking: int = Marking.AMBER
) -> TaskForce:
    """A liaison officer of an active agency forms a task force; their agency leads it.

    The role catalogue is copied in, and the founder holds the Commander role (command
    rests with whoever establishes it until handed over) and their agency's Liaison
    officer role, both recorded as assignments they made."""
    membership = _liaison_membership(by)
    if marking not in Marking.values:
        raise ValidationError({"marking": "Choose a TLP marking."})
    task_force = TaskForce(
        name=name.strip(),
        mandate=mandate.strip(),
        lead_agency=membership.agency,
        marking=marking,
        created_by=by,
    )
    task_force.full_clean()
    task_force.save()
    Participation.objects.create(
        task_force=task_force,
        agency=membership.agency,
        status=P.ACCEPTED,
        invited_by=by,
        responded_by=by,
        responded_at=timezone.now(),
    )
    ensure_role_templates()
    roles = {}
    for template in RoleTemplate.objects.filter(is_active=True):
        roles[template.slug] = _new_role(
            task_force=task_force,
            template=template,
            name=template.name,
            responsibilities=template.responsibilities,
            capabilities=template.capabilities,
            max_holders=template.default_max_holders,
            order=template.order,
        )
    audit.record(
        actor=by,
        action="taskforce.formed",
        obj=task_force,
        after={"name": task_force.name, "lead_agency": membership.agency_id, "marking": marking},
    )
    for slug in ("commander", "liaison-officer"):
        if slug in roles:
            _create_assignment(
                role=roles[slug], person=by, agency=membership.agency, assigned_by=by
            )
    return task_force


def _apply_changes(obj: Any, changes: dict[str, Any]) -> list[str]:
    """Set ``changes`` on ``obj`` (names, titles, descriptions and mandates stripped) and
    name the fields whose value differs: a form submitted unchanged saves nothing, so no
    timestamp or version moves for it."""
    changed = []
    for name, value in changes.items():
        if isinstance(value, str) and name in ("name", "title", "description", "mandate"):
            value = value.strip()
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


@transaction.atomic
def update_task_force(
    *,
    task_force: TaskForce,
    by: User,
    name: str | None = None,
    mandate: str | None = None,
    marking: int | None = None,
) -> TaskForce:
    """Edit a task force's name, mandate or marking: only by someone who sees its mandate,
    and never marked above what they see there."""
    require(by, "change", task_force)
    task_force = TaskForce.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=task_force.pk
    )
    if not access_for(by).sees(task_force.pk, task_force.marking):
        raise PermissionDenied(
            f"The mandate of {task_force} is marked {task_force.get_marking_display()}, above "
            "what you see there: only someone who sees it may edit the task force.",
            obj=task_force,
        )
    before = audit.snapshot(task_force, ("name", "mandate", "marking"))
    if marking is not None:
        _check_marking(marking, by, task_force)
    given = {"name": name, "mandate": mandate, "marking": marking}
    fields = _apply_changes(
        task_force, {field: value for field, value in given.items() if value is not None}
    )
    task_force.full_clean()
    if fields:
        task_force.save(update_fields=fields)
    audit.record(
        actor=by,
        action="taskforce.updated",
        obj=task_force,
        before=before,
        after=audit.snapshot(task_force, ("name", "mandate", "marking")),
    )
    return task_force


@transaction.atomic
def transition_task_force(*, task_force: TaskForce, to_status: str, by: User) -> TaskForce:
    """Move a task force along forming → active → standing down → closed."""
    require(by, "change", task_force)
    task_force = TaskForce.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=task_force.pk
    )
    old = task_force.status
    if to_status not in TF.values:
        raise ValidationError({"status": f"Unknown status {to_status!r}."})
    if (old, to_status) not in TASK_FORCE_TRANSITIONS:
        raise ValidationError(
            {
                "status": f"A task force that is {TF(old).label.lower()} cannot become {TF(to_status).label.lower()}."
            }
        )
    task_force.status = to_status
    task_force.status_changed_at = timezone.now()
    task_force.save(update_fields=["status", "status_changed_at"])
    audit.record(
        actor=by,
        action="taskforce.status_changed",
        obj=task_force,
        before={"status": old},
        after={"status": to_status},
    )
    return task_force


@transaction.atomic
def invite_agency(
    *, task_force: TaskForce, agency: Agency, by: User, message: str = ""
) -> Participation:
    """Invite an active agency (again, after a decline or withdrawal) to take part."""
    require(by, "manage_participation", task_force)
    agency = Agency.objects.select_for_update(no_key=True, of=("self",)).get(pk=agency.pk)
    lock_task_forces([task_force.pk])
    if agency.status != Agency.Status.ACTIVE:
        raise ValidationError({"agency": f"{agency} is not active and cannot be invited."})
    participation = (
        Participation.objects.select_for_update(no_key=True, of=("self",))
        .filter(task_force=task_force, agency=agency)
        .first()
    )
    if participation is not None and participation.status in (P.INVITED, P.ACCEPTED):
        raise ValidationError(
            {"agency": f"{agency} is already {participation.get_status_display().lower()}."}
        )
    before = {"status": participation.status} if participation else None
    if participation is None:
        participation = Participation(task_force=task_force, agency=agency)
    participation.status = P.INVITED
    participation.invited_by = by
    participation.invited_at = timezone.now()
    participation.message = message.strip()
    participation.responded_by = None
    participation.responded_at = None
    participation.reason = ""
    participation.full_clean(validate_constraints=False)
    participation.save()
    audit.record(
        actor=by,
        action="participation.invited",
        obj=participation,
        before=before,
        after={"status": P.INVITED},
    )
    notifications.emit("participation.invited", participation, actor=by)
    return participation


@transaction.atomic
def respond_to_invitation(
    *, participation: Participation, accept: bool, by: User, reason: str = ""
) -> Participation:
    """A liaison officer accepts or declines their agency's invitation. Accepting gives them
    their agency's Liaison officer role in the task force, so they can assign their people."""
    require(by, "respond", participation)
    _lock_task_force_of(Participation, participation.pk)
    participation = Participation.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=participation.pk
    )
    if participation.status != P.INVITED:
        raise ValidationError(
            {
                "status": f"This invitation is {participation.get_status_display().lower()}, not open."
            }
        )
    participation.status = P.ACCEPTED if accept else P.DECLINED
    participation.responded_by = by
    participation.responded_at = timezone.now()
    participation.reason = reason.strip()
    validate_fields(participation, {"reason": "reason"})
    participation.save(update_fields=["status", "responded_by", "responded_at", "reason"])
    audit.record(
        actor=by,
        action=f"participation.{participation.status}",
        obj=participation,
        before={"status": P.INVITED},
        after={"status": participation.status, "reason": participation.reason},
    )
    notifications.emit(
        f"participation.{participation.status}",
        participation,
        actor=by,
        data={"reason": participation.reason},
    )
    if accept:
        role = Role.objects.filter(
            task_force_id=participation.task_force_id, template__slug="liaison-officer"
        ).first()
        already = (
            role is not None and RoleAssignment.objects.open().filter(role=role, person=by).exists()
        )
        if role is not None and not already and _eligible(role, participation.agency):
            _create_assignment(role=role, person=by, agency=participation.agency, assigned_by=by)
    return participation


@transaction.atomic
def withdraw_agency(*, participation: Participation, by: User, reason: str) -> Participation:
    """An agency leaves (its liaison) or is withdrawn (by those managing participation).
    Every assignment its people hold there ends at once."""
    if not (
        can(by, "respond", participation)
        or can(by, "manage_participation", participation.task_force)
    ):
        raise PermissionDenied(explain(by, "respond", participation), obj=participation)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason."})
    _lock_task_force_of(Participation, participation.pk)
    participation = (
        Participation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("task_force")
        .get(pk=participation.pk)
    )
    if participation.agency_id == participation.task_force.lead_agency_id:
        raise ValidationError(
            {"agency": "The lead agency cannot withdraw from its own task force."}
        )
    if participation.status != P.ACCEPTED:
        raise ValidationError({"status": "Only an agency that accepted can withdraw."})
    participation.status = P.WITHDRAWN
    participation.responded_by = by
    participation.responded_at = timezone.now()
    participation.reason = reason
    validate_fields(participation, {"reason": "reason"})
    participation.save(update_fields=["status", "responded_by", "responded_at", "reason"])
    audit.record(
        actor=by,
        action="participation.withdrawn",
        obj=participation,
        before={"status": P.ACCEPTED},
        after={"status": P.WITHDRAWN, "reason": reason},
    )
    notifications.emit("participation.withdrawn", participation, actor=by, data={"reason": reason})
    _end_many(
        RoleAssignment.objects.open().filter(
            role__task_force_id=participation.task_force_id, agency_id=participation.agency_id
        ),
        by=by,
        reason=f"{participation.agency} withdrew from the task force: {reason}",
    )
    return participation


# --- role assignments ----------------------------------------------------------------------


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
    audit.record(
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
    audit.record(
        actor=by,
        action="assignment.ended",
        obj=assignment,
        before={"ended_at": None},
        after={"ended_at": assignment.ended_at.isoformat(), "reason": reason},
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
    _lock_task_force_of(RoleAssignment, assignment.pk, "role__task_force_id")
    assignment = (
        RoleAssignment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("person", "role__group")
        .get(pk=assignment.pk)
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
    _lock_task_force_of(RoleAssignment, assignment.pk, "role__task_force_id")
    assignment = RoleAssignment.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=assignment.pk
    )
    if assignment.ended_at is not None:
        raise ValidationError({"assignment": "This assignment has already ended."})
    if until is not None and until <= max(timezone.now(), assignment.starts_at):
        raise ValidationError({"until": "The end must be in the future and after the start."})
    before = assignment.ends_at
    assignment.ends_at = until
    validate_fields(assignment, {"ends_at": "until"})
    assignment.save(update_fields=["ends_at"])
    audit.record(
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
    _lock_task_force_of(RoleAssignment, assignment.pk, "role__task_force_id")
    assignment = (
        RoleAssignment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("role", "person", "agency")
        .get(pk=assignment.pk)
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
    audit.record(
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


# --- operational periods -------------------------------------------------------------------

PERIOD_FIELDS = ("number", "starts_at", "ends_at", "notes")


def _check_period(period: OperationalPeriod) -> None:
    """A period's own rules, against the other periods of its task force (which the caller
    has locked): ends after it starts, its number is free, it overlaps no other period."""
    errors: dict[str, str] = {}
    if period.starts_at and period.ends_at and period.ends_at <= period.starts_at:
        errors["ends_at"] = "The period must end after it starts."
    others = OperationalPeriod.objects.filter(task_force_id=period.task_force_id).exclude(
        pk=period.pk
    )
    if isinstance(period.number, bool) or not isinstance(period.number, int) or period.number < 1:
        errors["number"] = "A period number is a whole number of at least 1."
    elif others.filter(number=period.number).exists():
        errors["number"] = f"This task force already has an operational period {period.number}."
    if "ends_at" not in errors and period.starts_at and period.ends_at:
        clash = (
            others.filter(starts_at__lt=period.ends_at, ends_at__gt=period.starts_at)
            .order_by("starts_at")
            .first()
        )
        if clash is not None:
            errors["starts_at"] = (
                f"It overlaps operational period {clash.number} "
                f"({_when(clash.starts_at)} – {_when(clash.ends_at)})."
            )
    if errors:
        raise ValidationError(errors)


def _when(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z")


def _period_snapshot(period: OperationalPeriod) -> dict[str, Any]:
    return {
        "number": period.number,
        "starts_at": period.starts_at.isoformat(),
        "ends_at": period.ends_at.isoformat(),
        "notes": period.notes,
    }


def _lock_task_force(task_force: TaskForce) -> TaskForce:
    """Periods of one task force are written one at a time (numbers and overlaps are
    checked against the others), so two planners cannot slip overlapping periods in: the
    task force's lock, as every write inside it takes first."""
    return TaskForce.objects.select_for_update(no_key=True, of=("self",)).get(pk=task_force.pk)


@transaction.atomic
def create_period(
    *,
    task_force: TaskForce,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    by: User,
    number: int | None = None,
    notes: str = "",
) -> OperationalPeriod:
    """Add an operational period to a task force; its number defaults to the next free one.
    Planners (holders of the manage-objectives capability) do this, while it is not closed."""
    task_force = _lock_task_force(task_force)
    require(by, "manage_objectives", task_force)
    if number is None:
        last = (
            OperationalPeriod.objects.filter(task_force=task_force)
            .order_by("-number")
            .values_list("number", flat=True)
            .first()
        )
        number = (last or 0) + 1
    period = OperationalPeriod(
        task_force=task_force,
        number=number,
        starts_at=starts_at,
        ends_at=ends_at,
        notes=notes.strip(),
        created_by=by,
    )
    period.full_clean(validate_constraints=False)
    _check_period(period)
    period.save()
    audit.record(actor=by, action="period.created", obj=period, after=_period_snapshot(period))
    return period


@transaction.atomic
def update_period(*, period: OperationalPeriod, by: User, **changes: Any) -> OperationalPeriod:
    """Change a period's number, start, end or notes."""
    require(by, "manage_objectives", _lock_task_force(period.task_force))
    unknown = set(changes) - set(PERIOD_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    period = OperationalPeriod.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=period.pk
    )
    before = _period_snapshot(period)
    if changes.get("number", period.number) is None:
        changes.pop("number")  # left empty on the form: keep the number it has
    for name, value in changes.items():
        setattr(period, name, value.strip() if name == "notes" else value)
    period.full_clean(validate_constraints=False)
    _check_period(period)
    if changes:
        period.save(update_fields=list(changes))
    audit.record(
        actor=by,
        action="period.updated",
        obj=period,
        before=before,
        after=_period_snapshot(period),
    )
    return period


@transaction.atomic
def delete_period(*, period: OperationalPeriod, by: User) -> None:
    """Remove a period. Its objectives and tasks stay, no longer tied to a period."""
    require(by, "manage_objectives", _lock_task_force(period.task_force))
    period = OperationalPeriod.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=period.pk
    )
    untied = {
        "objectives": sorted(period.objectives.values_list("pk", flat=True)),
        "tasks": sorted(period.tasks.values_list("pk", flat=True)),
    }
    audit.record(
        actor=by,
        action="period.deleted",
        obj=period,
        before=_period_snapshot(period),
        after={"untied": untied},
    )
    period.delete()


def _check_period_of(period: OperationalPeriod | None, task_force_id: int) -> None:
    if period is not None and period.task_force_id != task_force_id:
        raise ValidationError({"period": "That operational period belongs to another task force."})


# --- objectives, tasks, updates ------------------------------------------------------------


def _check_agencies(
    task_force: TaskForce,
    owner: Agency | None,
    contributors: Iterable[Agency],
    field: str = "contributing_agencies",
) -> list[Agency]:
    accepted = _accepted_agency_ids(task_force)
    if owner is not None and owner.pk not in accepted:
        raise ValidationError({"owner_agency": f"{owner} does not take part in this task force."})
    contributor_list = list(contributors)
    outsiders = [str(a) for a in contributor_list if a.pk not in accepted]
    if outsiders:
        raise ValidationError(
            {field: f"Not taking part in this task force: {', '.join(outsiders)}."}
        )
    return contributor_list


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
    audit.record(
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
    lock_task_forces([objective.task_force_id])
    objective = (
        Objective.objects.select_for_update(no_key=True, of=("self",))
        .select_related("task_force")
        .get(pk=objective.pk)
    )
    before = audit.snapshot(objective, OBJECTIVE_FIELDS)
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
    audit.record(
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
    audit.record(actor=by, action="task.created", obj=task, after=audit.snapshot(task, TASK_FIELDS))
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
    lock_task_forces([task.task_force_id])
    task = (
        Task.objects.select_for_update(no_key=True, of=("self",))
        .select_related("objective", "task_force")
        .get(pk=task.pk)
    )
    if set(changes) - {"status"} and not can(by, "manage_tasks", task.task_force):
        raise PermissionDenied("Only task managers may change more than a task's status.")
    before = audit.snapshot(task, TASK_FIELDS)
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
    audit.record(
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


@transaction.atomic
def post_update(
    *,
    task_force: TaskForce,
    title: str,
    body: str,
    by: User,
    kind: str = Update.Kind.UPDATE,
    marking: int | None = None,
    requires_acknowledgement: bool = False,
    ack_roles: Iterable[Role] = (),
    ack_agencies: Iterable[Agency] = (),
) -> Update:
    """Post an update or situation report; it may ask named roles or agencies (or, with
    none named, everyone who can see it) to acknowledge it."""
    require(by, "post_updates", task_force)
    lock_task_forces([task_force.pk])
    marking = task_force.marking if marking is None else marking
    _check_marking(marking, by, task_force)
    roles, agencies = list(ack_roles), list(ack_agencies)
    if (roles or agencies) and not requires_acknowledgement:
        raise ValidationError(
            {
                "requires_acknowledgement": "Name roles or agencies only for an update that needs acknowledgement."
            }
        )
    if any(role.task_force_id != task_force.pk for role in roles):
        raise ValidationError({"ack_roles": "Only roles of this task force can be asked."})
    _check_agencies(task_force, None, agencies, field="ack_agencies")
    membership = membership_of(by)
    update = Update(
        task_force=task_force,
        author=by,
        author_agency=membership.agency if membership else None,
        kind=kind,
        title=title.strip(),
        body=body.strip(),
        marking=marking,
        requires_acknowledgement=requires_acknowledgement,
    )
    update.full_clean()
    update.save()
    update.ack_roles.set(roles)
    update.ack_agencies.set(agencies)
    _reread_or_rollback(update, by)
    audit.record(
        actor=by,
        action="update.posted",
        obj=update,
        after={
            "title": update.title,
            "marking": marking,
            "requires_acknowledgement": requires_acknowledgement,
        },
    )
    notifications.emit("update.posted", update, actor=by)
    if requires_acknowledgement:
        notifications.emit("update.critical", update, actor=by)
    return update


@transaction.atomic
def acknowledge_update(*, update: Update, by: User) -> Acknowledgement:
    """Record that a person asked to acknowledge an update has done so (once)."""
    require(by, "acknowledge", update)
    lock_task_forces([update.task_force_id])
    acknowledgement, created = Acknowledgement.objects.get_or_create(update=update, person=by)
    if created:
        audit.record(actor=by, action="update.acknowledged", obj=update)
    return acknowledgement


# --- reactions to agency changes (connected in TaskforcesConfig.ready) ----------------------


def on_agency_status_changed(
    *, agency: Agency, new_status: str, by: User, reason: str, **_: Any
) -> None:
    """Offboarding queues the ending of every assignment of the agency and the withdrawal
    of its participations as a background job (:func:`run_offboarding`); its people lost
    their access with the agency's status already. Suspension ends nothing: the permission
    core refuses a suspended agency's people, and reinstatement gives back exactly what
    was assigned."""
    if new_status != Agency.Status.OFFBOARDED:
        return
    participations, assignments = _offboarding_work(agency)
    job = OffboardingJob.objects.create(
        agency=agency,
        requested_by=by,
        reason=reason,
        total=participations.count() + assignments.count(),
    )
    from ..tasks import run_offboarding as run_offboarding_task

    job_id = job.pk
    # robust: a broker that is down must not undo the offboarding; beat resumes the job
    transaction.on_commit(lambda: run_offboarding_task.delay(job_id), robust=True)


OFFBOARD_BATCH = 200
# a job not moved for this long has lost its worker; beat starts it again
OFFBOARD_STALE = datetime.timedelta(minutes=5)


def _offboarding_work(agency: Agency) -> tuple[Any, Any]:
    """What offboarding ``agency`` still has to do: its open participations and its open
    (current or scheduled) role assignments."""
    return (
        Participation.objects.filter(agency=agency, status__in=(P.INVITED, P.ACCEPTED)),
        RoleAssignment.objects.open().filter(agency=agency),
    )


def _offboard_batch(job: OffboardingJob, size: int) -> int:
    """One transaction: up to ``size`` participations withdrawn and assignments ended, in
    the lock order (their task forces, lowest id first; then the participations; then the
    assignments), each audited; the job's progress moves in the same transaction. Returns
    how many were done (0: nothing left)."""
    agency = job.agency
    with transaction.atomic():
        participations, assignments = _offboarding_work(agency)
        part_rows = list(participations.order_by("pk").values_list("pk", "task_force_id")[:size])
        assignment_rows = list(
            assignments.order_by("pk").values_list("pk", "role__task_force_id")[
                : size - len(part_rows)
            ]
        )
        if not part_rows and not assignment_rows:
            return 0
        lock_task_forces([tf for _, tf in part_rows] + [tf for _, tf in assignment_rows])
        done = 0
        # re-read under the lock: another run of this job may have ended some already
        for participation in (
            participations.filter(pk__in=[pk for pk, _ in part_rows])
            .select_for_update(no_key=True, of=("self",))
            .order_by("pk")
        ):
            old = participation.status
            participation.status = P.WITHDRAWN
            participation.responded_by = job.requested_by
            participation.responded_at = timezone.now()
            participation.reason = f"Agency offboarded: {job.reason}"
            participation.save(update_fields=["status", "responded_by", "responded_at", "reason"])
            audit.record(
                actor=job.requested_by,
                action="participation.withdrawn",
                obj=participation,
                before={"status": old},
                after={"status": P.WITHDRAWN, "reason": participation.reason},
            )
            done += 1
        done += _end_many(
            assignments.filter(pk__in=[pk for pk, _ in assignment_rows]),
            by=job.requested_by,
            reason=f"{agency} was offboarded: {job.reason}",
        )
        OffboardingJob.objects.filter(pk=job.pk).update(
            done=models.F("done") + done, updated_at=timezone.now()
        )
    return done


def run_offboarding(job_id: int, *, batch_size: int = OFFBOARD_BATCH) -> OffboardingJob | None:
    """Do an offboarding job's work, batch by batch, until nothing is left. Idempotent: a
    second run (a worker that died, a task delivered twice) finds only what is still open,
    so each assignment and participation ends once."""
    job = OffboardingJob.objects.select_related("agency", "requested_by").filter(pk=job_id).first()
    if job is None:
        return None
    jobs = OffboardingJob.objects.filter(pk=job_id)
    jobs.filter(state=OffboardingJob.State.PENDING).update(
        state=OffboardingJob.State.RUNNING, started_at=timezone.now()
    )
    try:
        while _offboard_batch(job, batch_size):
            pass
    except Exception as error:
        jobs.update(error=f"{type(error).__name__}: {error}"[:2000], updated_at=timezone.now())
        raise
    jobs.exclude(state=OffboardingJob.State.DONE).update(
        state=OffboardingJob.State.DONE, finished_at=timezone.now(), error=""
    )
    return OffboardingJob.objects.get(pk=job_id)


def resume_offboarding(*, now: datetime.datetime | None = None) -> int:
    """Queue again the offboarding jobs not finished and not moved for a while (their task
    was lost or their worker died). Returns how many."""
    from ..tasks import run_offboarding as run_offboarding_task

    now = now or timezone.now()
    stale = OffboardingJob.objects.exclude(state=OffboardingJob.State.DONE).filter(
        updated_at__lt=now - OFFBOARD_STALE
    )
    ids = list(stale.values_list("pk", flat=True))
    for job_id in ids:
        run_offboarding_task.delay(job_id)
    return len(ids)


def on_membership_ended(*, membership: Membership, by: User, reason: str, **_: Any) -> None:
    """A person who leaves their agency holds no role any more."""
    _end_many(
        RoleAssignment.objects.open().filter(
            person_id=membership.user_id, agency_id=membership.agency_id
        ),
        by=by,
        reason=f"Left {membership.agency}: {reason}",
    )


# --- periodic checks (Celery beat) ------------------------------------------------------------


def send_reminders(*, now: datetime.datetime | None = None) -> int:
    """Warn of roles about to expire and tasks about to fall due; each warning once (the
    event key names the assignment's end or the task's due date)."""
    now = now or timezone.now()
    count = 0
    expiring = RoleAssignment.objects.filter(
        ended_at__isnull=True, ends_at__gt=now, ends_at__lte=now + datetime.timedelta(hours=48)
    ).select_related("role__task_force", "person", "agency")
    for assignment in expiring:
        with transaction.atomic():
            key = f"assignment.expiring:{assignment.pk}:{assignment.ends_at:%Y%m%d%H%M}"
            count += bool(notifications.emit("assignment.expiring", assignment, key=key))
    due_by = (now + datetime.timedelta(days=settings.CONCORD_DUE_SOON_DAYS)).date()
    due = Task.objects.filter(
        due_date__isnull=False, due_date__lte=due_by, due_date__gte=now.date()
    ).exclude(status__in=(Task.Status.DONE, Task.Status.CANCELLED))
    for task in due.exclude(task_force__status=TaskForce.Status.CLOSED):
        with transaction.atomic():
            key = f"task.due_soon:{task.pk}:{task.due_date:%Y%m%d}"
            count += bool(notifications.emit("task.due_soon", task, key=key))
    return count


RECERTIFY_BATCH = 500


def flag_unrecertified_assignments(*, now: datetime.datetime | None = None) -> int:
    """Tell the holder's agency's liaison officers about each assignment due for
    recertification, once per due cycle however often this runs: the event key names the
    assignment and the day it fell due, so recertifying starts a new cycle. Returns how
    many events were recorded."""
    now = now or timezone.now()
    due = RoleAssignment.objects.due_for_recertification(now).order_by("pk")
    count, last = 0, 0
    while True:
        batch = list(
            due.filter(pk__gt=last).only("pk", "starts_at", "recertified_at")[:RECERTIFY_BATCH]
        )
        if not batch:
            return count
        last = batch[-1].pk
        keys = {
            a.pk: f"recertify:{a.pk}:{a.recertification_due_at.astimezone(datetime.UTC).date().isoformat()}"
            for a in batch
        }
        # one query skips the cycles already flagged; the key's uniqueness still guards a race
        flagged = set(Event.objects.filter(key__in=keys.values()).values_list("key", flat=True))
        for assignment in batch:
            if keys[assignment.pk] in flagged:
                continue
            with transaction.atomic():
                count += bool(
                    notifications.emit(
                        "assignment.recertification_due",
                        assignment,
                        key=keys[assignment.pk],
                        data={"due_at": assignment.recertification_due_at.isoformat()},
                    )
                )


def escalate_unacknowledged(*, now: datetime.datetime | None = None) -> int:
    """Critical updates: remind whoever has not acknowledged after
    CONCORD_ACK_REMIND_HOURS, then tell their agency's liaison officers after
    CONCORD_ACK_ESCALATE_HOURS. Each person is reminded and escalated once per update."""
    from ..permissions import acknowledgement_audience

    now = now or timezone.now()
    remind_after = datetime.timedelta(hours=settings.CONCORD_ACK_REMIND_HOURS)
    escalate_after = datetime.timedelta(hours=settings.CONCORD_ACK_ESCALATE_HOURS)
    count = 0
    updates = Update.objects.filter(
        requires_acknowledgement=True,
        created_at__lte=now - remind_after,
        created_at__gte=now - datetime.timedelta(days=7),
    ).exclude(task_force__status=TaskForce.Status.CLOSED)
    for update in updates.select_related("task_force"):
        done = Acknowledgement.objects.filter(update=update).values("person_id")
        waiting = acknowledgement_audience(update).exclude(pk=update.author_id).exclude(pk__in=done)
        escalate = update.created_at <= now - escalate_after
        for person in waiting:
            with transaction.atomic():
                data = {"person": person.pk, "person_name": str(person)}
                key = f"update.ack_reminder:{update.pk}:{person.pk}"
                count += bool(notifications.emit("update.ack_reminder", update, key=key, data=data))
                if escalate:
                    key = f"update.ack_escalated:{update.pk}:{person.pk}"
                    count += bool(
                        notifications.emit("update.ack_escalated", update, key=key, data=data)
                    )
    return count
