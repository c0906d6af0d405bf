"""Task force pages: the list, forming one, its page, editing it and moving its status."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from agencies.selectors import membership_of
from coordination.permissions import PermissionDenied, can, explain, require
from coordination.web.pages import (
    AuthenticatedHttpRequest,
    filter_list,
    paginate,
    query_without_page,
    run_service,
)

from .. import forms, selectors, services
from ..filtersets import TaskForceFilter
from ..lifecycles import TASK_FORCE
from ..models import Participation, TaskForce
from ._links import row_link
from ._pages import form_page, task_force_or_404


@login_required
def task_force_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    filterset = TaskForceFilter(
        request.GET or None,
        queryset=selectors.task_forces_for(request.user).order_by("name"),
        request=request,
    )
    queryset = filter_list(request, filterset)
    membership = membership_of(request.user)
    return render(
        request,
        "taskforces/task_force_list.html",
        {
            "filter": filterset,
            "page_obj": paginate(request, queryset),
            "query": query_without_page(request),
            "may_form": membership is not None
            and membership.role == "liaison"
            and membership.agency.is_active,
        },
    )


@login_required
def task_force_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A liaison officer of an active agency forms a task force; their agency leads it."""
    return form_page(
        request,
        forms.TaskForceForm(request.POST or None),
        save=lambda data: services.form_task_force(by=request.user, **data),
        saved=lambda task_force: (
            f"{task_force} is formed. You hold its Commander and Liaison officer roles."
        ),
        then=lambda task_force: reverse("taskforces:detail", args=[task_force.pk]),
        context={"title": "Form a task force", "submit": "Form task force"},
    )


@login_required
def task_force_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    user = request.user
    # rows, each given its link below for the template (hence Any: not model attributes)
    participations: list[Any] = selectors.participations_list(task_force)
    objectives: list[Any] = selectors.first_objectives(user, task_force, 10)
    updates: list[Any] = selectors.first_updates(user, task_force, 5)
    # each row's link made once per list, not reversed per row (see _links)
    agency_link = row_link("agencies:detail")
    for participation in participations:
        participation.agency_link = agency_link(participation.agency_id)
    objective_link = row_link("taskforces:objective")
    for objective in objectives:
        objective.link = objective_link(objective.pk)
    update_link = row_link("taskforces:update")
    for update in updates:
        update.link = update_link(update.pk)
    return render(
        request,
        "taskforces/task_force_detail.html",
        {
            "task_force": task_force,
            "sees_mandate": selectors.sees_mandate(user, task_force),
            "participations": participations,
            "objectives": objectives,
            "updates": updates,
            "period": selectors.upcoming_period(task_force),
            "now": timezone.now(),
            "why": explain(user, "view", task_force),
            "may": {
                action: can(user, action, task_force)
                for action in (
                    "change",
                    "manage_participation",
                    "manage_objectives",
                    "post_updates",
                )
            },
            # one button per move the lifecycle allows from here (the service refuses others)
            "status_moves": TASK_FORCE.moves_from(task_force.status),
            "my_participation": Participation.objects.restrict(user, "respond")
            .filter(task_force=task_force)
            .first(),
        },
    )


@login_required
def task_force_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "change", task_force)
    if not selectors.sees_mandate(request.user, task_force):
        raise PermissionDenied(
            f"The mandate is marked {task_force.get_marking_display()}, above what you see "
            "here: only someone who sees it may edit the task force.",
            obj=task_force,
        )
    initial = {
        "name": task_force.name,
        "mandate": task_force.mandate,
        "marking": task_force.marking,
    }
    return form_page(
        request,
        forms.TaskForceForm(request.POST or None, initial=initial),
        save=lambda data: services.update_task_force(
            task_force=task_force, by=request.user, **data
        ),
        saved="Saved.",
        then=lambda _: reverse("taskforces:detail", args=[task_force.pk]),
        context={"title": f"Edit {task_force}", "submit": "Save", "task_force": task_force},
    )


@login_required
@require_POST
def task_force_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "change", task_force)
    form = forms.TaskForceStatusForm(request.POST)
    if form.is_valid() and run_service(
        form,
        lambda: services.transition_task_force(
            task_force=task_force, to_status=form.cleaned_data["status"], by=request.user
        ),
    ):
        messages.success(
            request,
            f"{task_force} is now {TaskForce.Status(form.cleaned_data['status']).label.lower()}.",
        )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("taskforces:detail", task_force.pk)
