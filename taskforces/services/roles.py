"""The role catalogue and a task force's roles: their capabilities (kept in guardian rows for the
role's group), holder limits and eligible agencies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.models import Agency
from coordination.models import User
from coordination.permissions import require

from ..catalogue import DEFAULT_ROLE_TEMPLATES
from ..models import (
    Capability,
    Role,
    RoleAssignment,
    RoleTemplate,
    TaskForce,
    TaskForceGroupObjectPermission,
)
from ._common import record
from .locks import lock_in_task_force, lock_task_forces


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
    record(
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
    role = lock_in_task_force(Role.objects.all(), role.pk, task_force_id=role.task_force_id)
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
    record(
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
