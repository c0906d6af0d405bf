"""Checks and small steps shared by several sections of the task-force services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model

from agencies.models import Agency, Membership
from agencies.selectors import membership_of
from coordination import audit
from coordination.models import User
from coordination.permissions import PermissionDenied, can, explain
from coordination.permissions.markings import Marking

from .. import timeline
from ..access import access_for
from ..models import Participation, TaskForce
from ..permissions.items import _ceiling_for

TF = TaskForce.Status
P = Participation.Status


def _reread_or_rollback(obj: Model, user: User) -> None:
    """After a write, the writer must still be able to see what they wrote; otherwise the
    whole transaction is undone (a guard against writing what one may not see)."""
    # ``can``: the policy's answer from the person's access where it gives one without a
    # query (objectives, tasks, updates: their task force and marking), else the
    # restricted queryset
    if not can(user, "view", obj):
        raise PermissionDenied(explain(user, "view", obj), obj=obj)


def _check_marking(value: int, by: User, task_force: TaskForce) -> None:
    if value not in Marking.values:
        raise ValidationError({"marking": "Choose a TLP marking."})
    # the ceiling the person's access read (the same ``access.ceilings``), or, where it
    # holds none for this task force (no sight of it), the explanation's reading
    ceiling = access_for(by).ceilings.get(task_force.pk)
    if ceiling is None:
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


def _liaison_membership(user: User) -> Membership:
    membership = membership_of(user)
    if membership is None or membership.role != Membership.Role.LIAISON:
        raise PermissionDenied("Only a liaison officer may do this for their agency.")
    if membership.agency.status != Agency.Status.ACTIVE:
        raise PermissionDenied(f"{membership.agency} is not active.")
    return membership


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


def _check_agencies(
    task_force: TaskForce,
    owner: Agency | None,
    contributors: Iterable[Agency],
    field: str = "contributing_agencies",
) -> list[Agency]:
    contributor_list = list(contributors)
    if owner is None and not contributor_list:
        return contributor_list  # nothing to check
    accepted = _accepted_agency_ids(task_force)
    if owner is not None and owner.pk not in accepted:
        raise ValidationError({"owner_agency": f"{owner} does not take part in this task force."})
    outsiders = [str(a) for a in contributor_list if a.pk not in accepted]
    if outsiders:
        raise ValidationError(
            {field: f"Not taking part in this task force: {', '.join(outsiders)}."}
        )
    return contributor_list


def record(
    *,
    actor: Any,
    action: str,
    obj: Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: Any = None,
) -> None:
    """Record a change inside a task force: its audit event and, when it is a timeline
    event (``taskforces.timeline.ACTIONS``), its timeline entry, both in the caller's
    transaction, so neither exists for a change that rolled back."""
    audit.record(actor=actor, action=action, obj=obj, before=before, after=after)
    timeline.record(actor=actor, action=action, obj=obj, before=before, after=after, at=at)
