"""Task forces and participation: forming, editing and moving a task force along its lifecycle;
inviting agencies, their answers, and withdrawing them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency
from coordination import audit, notifications
from coordination.models import User
from coordination.permissions import PermissionDenied, can, explain, require
from coordination.permissions.markings import Marking
from coordination.validators import validate_fields

from ..access import access_for
from ..lifecycles import TASK_FORCE
from ..models import Participation, Role, RoleAssignment, RoleTemplate, TaskForce
from ._common import P, _apply_changes, _check_marking, _liaison_membership, record
from .assignments import _create_assignment, _eligible, _end_many
from .locks import lock_in_task_force, lock_task_forces
from .roles import _new_role, ensure_role_templates

# forming → active → standing down → closed (taskforces.lifecycles, with the buttons)
TASK_FORCE_TRANSITIONS = TASK_FORCE.pairs


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
    record(
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
    record(
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
    TASK_FORCE.check(old, to_status)
    task_force.status = to_status
    task_force.status_changed_at = timezone.now()
    task_force.save(update_fields=["status", "status_changed_at"])
    record(
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
    record(
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
    participation = lock_in_task_force(Participation.objects.all(), participation.pk)
    if participation.status != P.INVITED:
        raise ValidationError(
            {
                "status": f"This invitation is {participation.get_status_display().lower()}, not open."
            }
        )
    _move_participation(
        participation, to=P.ACCEPTED if accept else P.DECLINED, by=by, reason=reason.strip()
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
    participation = lock_in_task_force(
        Participation.objects.select_related("task_force"), participation.pk
    )
    if participation.agency_id == participation.task_force.lead_agency_id:
        raise ValidationError(
            {"agency": "The lead agency cannot withdraw from its own task force."}
        )
    if participation.status != P.ACCEPTED:
        raise ValidationError({"status": "Only an agency that accepted can withdraw."})
    _move_participation(participation, to=P.WITHDRAWN, by=by, reason=reason)
    notifications.emit("participation.withdrawn", participation, actor=by, data={"reason": reason})
    _end_many(
        RoleAssignment.objects.open().filter(
            role__task_force_id=participation.task_force_id, agency_id=participation.agency_id
        ),
        by=by,
        reason=f"{participation.agency} withdrew from the task force: {reason}",
    )
    return participation


def _move_participation(
    participation: Participation, *, to: str, by: User | None, reason: str, validate: bool = True
) -> None:
    """Move a participation, locked by the caller and its status checked, to ``to``: who
    answered, when and why are saved with it, and the move is audited as
    ``participation.<to>`` with the status before and after. ``validate`` checks the
    reason as a form would (a person's words; the offboarding job writes its own)."""
    old = participation.status
    participation.status = to
    participation.responded_by = by
    participation.responded_at = timezone.now()
    participation.reason = reason
    if validate:
        validate_fields(participation, {"reason": "reason"})
    participation.save(update_fields=["status", "responded_by", "responded_at", "reason"])
    record(
        actor=by,
        action=f"participation.{to}",
        obj=participation,
        before={"status": old},
        after={"status": to, "reason": reason},
    )
