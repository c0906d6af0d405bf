"""The dashboard: what needs the person's attention, by what kind of user they are."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import render

from agencies.models import Membership, SharingAgreement
from agencies.selectors import applications_to_review, membership_of
from coordination.web.pages import AuthenticatedHttpRequest

from .. import selectors
from ..models import Participation, RoleAssignment, TaskForce
from ._links import row_link

# how many rows each dashboard list shows; each links to the full page
SHOWN = 10


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Next steps first, by kind of user (issue 17, item 6):

    * everyone with roles: critical updates waiting for their acknowledgement (first, with
      the button in place), their tasks by due date, their roles and task forces;
    * liaison officers: their agency's invitations, task forces where they assign their
      people (with how many hold a role there), assignments due for recertification,
      agreements waiting for their agency's word;
    * agency administrators: the access review (assignments due for recertification),
      agreements waiting for their agency, their people;
    * portal administrators: agency applications to review.

    Every list is read through the permission core and costs one query whatever its
    length; a list for another kind of user is not read at all."""
    user = request.user
    membership = membership_of(user)
    role = membership.role if membership else None
    is_liaison = role == Membership.Role.LIAISON
    is_agency_admin = role == Membership.Role.ADMIN
    # rows, each given its link below for the template (hence Any: not model attributes)
    assignments: list[Any] = selectors.first_current_assignments(user, 50)
    context: dict[str, Any] = {
        "membership": membership,
        "is_liaison": is_liaison,
        "is_agency_admin": is_agency_admin,
        "assignments": assignments,
        # staff work only exists for someone holding a role; an administrator without
        # one is not shown empty "My tasks" and "My roles"
        "works_in_task_forces": bool(assignments),
    }
    if assignments:
        task_forces: list[Any] = selectors.first_task_forces(user, 20)
        tasks: list[Any] = selectors.first_next_tasks(user, SHOWN)
        # each row's link made once per list, not reversed per row (see _links)
        task_force_link, task_link = row_link("taskforces:detail"), row_link("taskforces:task")
        for assignment in assignments:
            assignment.link = task_force_link(assignment.role.task_force_id)
        for task_force in task_forces:
            task_force.link = task_force_link(task_force.pk)
        for task in tasks:
            task.link = task_link(task.pk)
        context.update(
            {
                "task_forces": task_forces,
                "tasks": tasks,
                # read here, before the page, so the banner above it uses the same rows
                "to_acknowledge": selectors.awaiting_my_acknowledgement(user, SHOWN),
            }
        )
    if is_liaison:
        context["invitations"] = (
            Participation.objects.restrict(user, "respond")
            .filter(status=Participation.Status.INVITED)
            .select_related("task_force__lead_agency", "agency")[:SHOWN]
        )
        context["to_staff"] = _task_forces_to_staff(user, membership.agency_id)  # type: ignore[union-attr]
        context["liaison_due"] = (
            RoleAssignment.objects.due_for_recertification()
            .restrict(user, "change")
            .select_related("person", "role__task_force")
            .order_by("starts_at", "pk")[:SHOWN]
        )
    if is_liaison or is_agency_admin:
        context["agreements_waiting"] = (
            SharingAgreement.objects.restrict(user, "accept")
            .filter(status=SharingAgreement.Status.PROPOSED)
            .select_related("proposed_by_agency")
            .order_by("created_at", "pk")[:SHOWN]
        )
    if is_agency_admin:
        context["due_for_recertification"] = (
            RoleAssignment.objects.due_for_recertification().restrict(user, "recertify").count()
        )
    if user.is_portal_admin:
        context["applications"] = applications_to_review(user)[:SHOWN]
    return render(request, "taskforces/dashboard.html", context)


def _task_forces_to_staff(user: Any, agency_id: int) -> Any:
    """The task forces where the liaison officer assigns roles, with how many of their
    agency's people hold a current role there (none: the agency is in name only)."""
    holders = (
        RoleAssignment.objects.current()
        .filter(role__task_force_id=OuterRef("pk"), agency_id=agency_id)
        .order_by()
        .values("role__task_force_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        TaskForce.objects.restrict(user, "assign_roles")
        .exclude(status=TaskForce.Status.CLOSED)
        .annotate(my_people=Coalesce(Subquery(holders, output_field=IntegerField()), Value(0)))
        .order_by("my_people", "name")[:SHOWN]
    )
