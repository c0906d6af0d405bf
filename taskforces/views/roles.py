"""The organisation chart (ICS 203), roles, and assigning people to them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from agencies.selectors import membership_of
from coordination.permissions import can, require
from coordination.web import (
    run_service,
    visible_or_404,
)

from .. import forms, selectors, services
from ..models import (
    Role,
    RoleAssignment,
    TaskForce,
)


@login_required
def organisation(request: HttpRequest, pk: int) -> HttpResponse:
    """The organisation chart (ICS 203): roles, responsibilities, holders and agencies."""
    task_force = visible_or_404(TaskForce.objects.select_related("lead_agency"), request.user, pk)
    membership = membership_of(request.user)
    may_assign = (
        membership is not None
        and membership.role == "liaison"
        and can(request.user, "assign_roles", task_force)
    )
    return render(
        request,
        "taskforces/organisation.html",
        {
            "task_force": task_force,
            "roles": selectors.organisation_chart(task_force),
            "may_assign": may_assign,
            "my_agency_id": membership.agency_id if membership else None,
            "may_change": can(request.user, "change", task_force),
        },
    )


@login_required
def role_create(request: HttpRequest, pk: int) -> HttpResponse:
    task_force = visible_or_404(TaskForce.objects.all(), request.user, pk)
    require(request.user, "change", task_force)
    form = forms.RoleForm(request.POST or None, task_force=task_force)
    if request.method == "POST" and form.is_valid():
        role = run_service(
            form,
            lambda: services.create_role(
                task_force=task_force, by=request.user, **form.cleaned_data
            ),
        )
        if role is not None:
            messages.success(request, f"The role {role.name} is added.")
            return redirect("taskforces:organisation", task_force.pk)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"Add a role to {task_force}",
            "submit": "Add role",
            "task_force": task_force,
        },
    )


@login_required
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """A liaison officer assigns one of their own agency's people to a role."""
    role = visible_or_404(Role.objects.select_related("task_force"), request.user, pk)
    membership = membership_of(request.user)
    require(request.user, "assign_roles", role.task_force)
    form = forms.AssignRoleForm(
        request.POST or None, agency=membership.agency if membership else None
    )
    if request.method == "POST" and form.is_valid():
        assignment = run_service(
            form,
            lambda: services.assign_role(
                role=role,
                person=form.cleaned_data["person"],
                until=form.cleaned_data["until"],
                assigned_by=request.user,
            ),
        )
        if assignment is not None:
            messages.success(request, f"{assignment.person} now holds {role.name}.")
            return redirect("taskforces:organisation", role.task_force_id)
    return render(
        request,
        "taskforces/assign.html",
        {"form": form, "role": role, "task_force": role.task_force},
    )


@login_required
def end_assignment(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = visible_or_404(
        RoleAssignment.objects.select_related("role__task_force", "person", "agency"),
        request.user,
        pk,
    )
    require(request.user, "change", assignment)
    form = forms.ReasonForm(request.POST or None)
    if (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form,
            lambda: services.end_assignment(
                assignment=assignment, by=request.user, reason=form.cleaned_data["reason"]
            ),
        )
    ):
        messages.success(request, f"{assignment.person} no longer holds {assignment.role.name}.")
        return redirect("taskforces:organisation", assignment.role.task_force_id)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"End {assignment.person}'s role {assignment.role.name}",
            "submit": "End assignment",
            "danger": True,
            "task_force": assignment.role.task_force,
        },
    )


@login_required
def assignment_until(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = visible_or_404(
        RoleAssignment.objects.select_related("role__task_force", "person"), request.user, pk
    )
    require(request.user, "change", assignment)
    form = forms.AssignmentUntilForm(request.POST or None, initial={"until": assignment.ends_at})
    if (
        request.method == "POST"
        and form.is_valid()
        and run_service(
            form,
            lambda: services.set_assignment_end(
                assignment=assignment, until=form.cleaned_data["until"], by=request.user
            ),
        )
    ):
        messages.success(request, "End date saved.")
        return redirect("taskforces:organisation", assignment.role.task_force_id)
    return render(
        request,
        "taskforces/form.html",
        {
            "form": form,
            "title": f"End date for {assignment.person} as {assignment.role.name}",
            "submit": "Save",
            "task_force": assignment.role.task_force,
        },
    )
