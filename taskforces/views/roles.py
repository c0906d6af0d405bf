"""The organisation chart (ICS 203), roles, and assigning people to them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from agencies.selectors import membership_of
from coordination.permissions import can, require
from coordination.web.pages import AuthenticatedHttpRequest, visible_or_404

from .. import forms, selectors, services
from ..models import Role, RoleAssignment
from ._links import row_link
from ._pages import form_page, task_force_or_404


@login_required
def organisation(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The organisation chart (ICS 203): roles, responsibilities, holders and agencies."""
    task_force = task_force_or_404(request, pk)
    membership = membership_of(request.user)
    may_assign = (
        membership is not None
        and membership.role == "liaison"
        and can(request.user, "assign_roles", task_force)
    )
    # each role with its current holders (``holders``) and the agencies it is limited to
    # (``eligible``) and, below, its links
    roles: list[Any] = selectors.chart_of(task_force)
    if may_assign:  # the assign and end links, each made once for the chart (see _links)
        assign_link = row_link("taskforces:assign")
        until_link = row_link("taskforces:assignment-until")
        end_link = row_link("taskforces:assignment-end")
        for role in roles:
            role.assign_link = assign_link(role.pk)
            for holder in role.holders:
                holder.until_link = until_link(holder.pk)
                holder.end_link = end_link(holder.pk)
    return render(
        request,
        "taskforces/organisation.html",
        {
            "task_force": task_force,
            "roles": roles,
            "may_assign": may_assign,
            "my_agency_id": membership.agency_id if membership else None,
            "may_change": can(request.user, "change", task_force),
        },
    )


@login_required
def role_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "change", task_force)
    return form_page(
        request,
        forms.RoleForm(request.POST or None, task_force=task_force),
        save=lambda data: services.create_role(task_force=task_force, by=request.user, **data),
        saved=lambda role: f"The role {role.name} is added.",
        then=lambda _: reverse("taskforces:organisation", args=[task_force.pk]),
        context={
            "title": f"Add a role to {task_force}",
            "submit": "Add role",
            "task_force": task_force,
        },
    )


@login_required
def assign(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A liaison officer assigns one of their own agency's people to a role."""
    role = visible_or_404(Role.objects.select_related("task_force"), request.user, pk)
    membership = membership_of(request.user)
    require(request.user, "assign_roles", role.task_force)
    return form_page(
        request,
        forms.AssignRoleForm(
            request.POST or None, agency=membership.agency if membership else None
        ),
        save=lambda data: services.assign_role(
            role=role, person=data["person"], until=data["until"], assigned_by=request.user
        ),
        saved=lambda assignment: f"{assignment.person} now holds {role.name}.",
        then=lambda _: reverse("taskforces:organisation", args=[role.task_force_id]),
        context={"role": role, "task_force": role.task_force},
        template="taskforces/assign.html",
    )


@login_required
def end_assignment(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    assignment = visible_or_404(
        RoleAssignment.objects.select_related("role__task_force", "person", "agency"),
        request.user,
        pk,
    )
    require(request.user, "change", assignment)
    return form_page(
        request,
        forms.ReasonForm(request.POST or None),
        save=lambda data: services.end_assignment(
            assignment=assignment, by=request.user, reason=data["reason"]
        ),
        saved=f"{assignment.person} no longer holds {assignment.role.name}.",
        then=lambda _: reverse("taskforces:organisation", args=[assignment.role.task_force_id]),
        context={
            "title": f"End {assignment.person}'s role {assignment.role.name}",
            "submit": "End assignment",
            "danger": True,
            "task_force": assignment.role.task_force,
        },
    )


@login_required
def assignment_until(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    assignment = visible_or_404(
        RoleAssignment.objects.select_related("role__task_force", "person"), request.user, pk
    )
    require(request.user, "change", assignment)
    return form_page(
        request,
        forms.AssignmentUntilForm(request.POST or None, initial={"until": assignment.ends_at}),
        save=lambda data: services.set_assignment_end(
            assignment=assignment, until=data["until"], by=request.user
        ),
        saved="End date saved.",
        then=lambda _: reverse("taskforces:organisation", args=[assignment.role.task_force_id]),
        context={
            "title": f"End date for {assignment.person} as {assignment.role.name}",
            "submit": "Save",
            "task_force": assignment.role.task_force,
        },
    )
