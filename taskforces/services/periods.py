"""Operational periods of a task force: numbered, non-overlapping spans of time that objectives
and tasks may be tied to."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from coordination.models import User
from coordination.permissions import require
from coordination.timefmt import format_moment

from ..models import OperationalPeriod, TaskForce
from ._common import record

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
    # the one way to show a time, in the reader's zone (coordination.timefmt)
    return format_moment(moment)


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
    record(actor=by, action="period.created", obj=period, after=_period_snapshot(period))
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
    record(
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
    record(
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
