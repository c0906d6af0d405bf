"""Reads for task forces, always through the permission core."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from coordination.models import User
from coordination.permissions import InList, request_memory

from .access import access_for, visible_items
from .models import (
    Objective,
    OperationalPeriod,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)
from .permissions import current_assignments


def task_forces_for(user: Any) -> QuerySet[TaskForce]:
    """The task forces a person may see, with their lead agency."""
    return TaskForce.objects.restrict(user, "view").select_related("lead_agency")


def sees_mandate(user: Any, task_force: TaskForce) -> bool:
    """Does the person see the task force's mandate? Its marking limits who does exactly as
    an item's marking does: only those who would see an item so marked there."""
    return access_for(user).sees(task_force.pk, task_force.marking)


def mandate_search(user: Any, value: str) -> Q:
    """Task forces whose name contains ``value``, or whose mandate does among those whose
    mandate the person sees (a search must not tell what a withheld mandate says)."""
    return Q(name__icontains=value) | (
        Q(mandate__icontains=value) & visible_items(access_for(user), "pk", "marking")
    )


def my_current_assignments(user: Any) -> QuerySet[RoleAssignment]:
    return (
        current_assignments(user)
        .select_related("role__task_force", "agency")
        .order_by("role__task_force__name", "role__order")
    )


def _task_count(tasks: QuerySet[Task]) -> Coalesce:
    """Subquery: how many of ``tasks`` belong to the outer objective."""
    counted = (
        tasks.filter(objective_id=OuterRef("pk"))
        .order_by()
        .values("objective_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_progress(objectives: QuerySet[Objective]) -> QuerySet[Objective]:
    """Annotate ``task_total`` and ``task_done`` (cancelled tasks do not count) in the same
    query, from which ``Objective.progress`` is the percent done.

    Subqueries per objective rather than a join and GROUP BY: a page computes them for its
    own rows only, and counting the list (the paginator) leaves them out altogether."""
    return objectives.annotate(
        task_total=_task_count(Task.objects.exclude(status=Task.Status.CANCELLED)),
        task_done=_task_count(Task.objects.filter(status=Task.Status.DONE)),
    )


def objective_progress(objective: Objective) -> int:
    counts = objective.tasks.exclude(status=Task.Status.CANCELLED).aggregate(
        total=Count("id"), done=Count("id", filter=Q(status=Task.Status.DONE))
    )
    # whole percent, rounded down like the annotated ``progress``
    return 100 * counts["done"] // counts["total"] if counts["total"] else 0


def organisation_chart(task_force: TaskForce) -> QuerySet[Role]:
    """Roles with their current holders and agencies (the ICS 203 view)."""
    # only what the chart shows of each holder: a national task force has hundreds, and
    # whole rows of people and agencies (passwords, contact details) cost more to build
    # than to read
    holders = (
        RoleAssignment.objects.current()
        .select_related("person", "agency")
        .only(
            "role_id",
            "person_id",
            "agency_id",
            "starts_at",
            "ends_at",
            "person__first_name",
            "person__last_name",
            "person__email",
            "agency__name",
            "agency__acronym",
        )
    )
    current_holders: Any = Prefetch("assignments", queryset=holders, to_attr="holders")
    return task_force.roles.prefetch_related(current_holders, "eligible_agencies")


def visible_objectives(user: Any, task_force: TaskForce) -> QuerySet[Objective]:
    return (
        with_progress(Objective.objects.restrict(user, "view", within=task_force))
        .select_related("owner_agency")
        .order_by("-priority", F("target_date").asc(nulls_last=True), "id")
    )


def visible_updates(user: Any, task_force: TaskForce) -> QuerySet[Update]:
    return Update.objects.restrict(user, "view", within=task_force).select_related(
        "author", "author_agency"
    )


def visible_tasks(user: Any, task_force: TaskForce) -> QuerySet[Task]:
    """The tasks of a task force the person may see (the tasks page and its export)."""
    return (
        Task.objects.restrict(user, "view", within=task_force)
        .select_related("objective", "assignee", "assigned_role")
        .order_by(F("due_date").asc(nulls_last=True), "objective_id", "id")
    )


def current_holders(task_force: TaskForce) -> QuerySet[User]:
    """People holding a current role in the task force through an active, accepted agency."""
    from agencies.models import Agency

    from .models import Participation

    accepted = Participation.objects.filter(
        task_force=task_force, status=Participation.Status.ACCEPTED
    ).values("agency_id")
    holding = RoleAssignment.objects.current().filter(
        role__task_force=task_force, agency__status=Agency.Status.ACTIVE, agency_id__in=accepted
    )
    return User.objects.filter(is_active=True, pk__in=holding.values("person_id")).order_by(
        "last_name", "first_name"
    )


def my_open_tasks(user: Any) -> QuerySet[Task]:
    """Tasks for me or for a role I hold now, not finished, soonest due first."""
    mine = Q(assignee_id=user.pk) | Q(InList("assigned_role_id", sorted(access_for(user).role_ids)))
    return (
        Task.objects.restrict(user, "view")
        .filter(mine)
        .exclude(status__in=(Task.Status.DONE, Task.Status.CANCELLED))
        .select_related("task_force", "objective")
        .order_by(F("due_date").asc(nulls_last=True), "id")
    )


def awaiting_my_acknowledgement(user: Any, first: int) -> list[Update]:
    """The ``first`` newest updates waiting for the person's acknowledgement, read once per
    request: the critical banner every page shows and the dashboard's own list ask for
    them both, and the longer reading serves the shorter. Forgotten at the request's
    first write (an acknowledgement), as everything ``request_memory`` holds."""
    note = request_memory.remembered("taskforces.awaiting_acknowledgement")
    if note is not None:
        read = note.get(user.pk)
        if read is not None and read[0] >= first:
            return read[1][:first]
    rows = list(updates_awaiting_my_acknowledgement(user)[:first])
    if note is not None:
        note[user.pk] = (first, rows)
    return rows


def updates_awaiting_my_acknowledgement(user: Any) -> QuerySet[Update]:
    from .models import Acknowledgement

    done = Acknowledgement.objects.filter(person_id=user.pk).values("update_id")
    return (
        Update.objects.restrict(user, "acknowledge")
        .exclude(pk__in=done)
        .select_related("task_force", "author_agency")
        .order_by("-created_at")
    )


def current_period(
    task_force: TaskForce, now: datetime.datetime | None = None
) -> OperationalPeriod | None:
    """The task force's operational period running at ``now`` (periods never overlap)."""
    now = now or timezone.now()
    return (
        OperationalPeriod.objects.filter(task_force=task_force, starts_at__lte=now, ends_at__gt=now)
        .order_by("starts_at")
        .first()
    )


def upcoming_period(
    task_force: TaskForce, now: datetime.datetime | None = None
) -> OperationalPeriod | None:
    """The running period or, when none runs, the next one to start (one query, for the
    task force page)."""
    now = now or timezone.now()
    return (
        OperationalPeriod.objects.filter(task_force=task_force, ends_at__gt=now)
        .order_by("starts_at")
        .first()
    )


def timeline_of(user: Any, task_force: TaskForce) -> QuerySet[TimelineEntry]:
    """The task force's timeline as the person may see it, newest first (its page, its
    exports and the API)."""
    return (
        TimelineEntry.objects.restrict(user, "view")
        .filter(task_force=task_force)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )
