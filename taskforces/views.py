"""Pages for task forces: fetch through the permission core, call a service, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from coordination.permissions import explain

from . import selectors
from .models import TaskForce


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """My task forces and roles."""
    return render(
        request,
        "taskforces/dashboard.html",
        {
            "task_forces": selectors.task_forces_for(request.user)[:50],
            "assignments": selectors.my_current_assignments(request.user)[:100],
        },
    )


@login_required
def task_force_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A task force: mandate, organisation chart, objectives, updates, and why I see it.

    A task force the person may not see is "not found", whether it exists or not."""
    try:
        task_force = selectors.task_forces_for(request.user).get(pk=pk)
    except TaskForce.DoesNotExist:
        raise Http404("No task force found.") from None
    return render(
        request,
        "taskforces/task_force_detail.html",
        {
            "task_force": task_force,
            "roles": selectors.organisation_chart(task_force),
            "objectives": selectors.visible_objectives(request.user, task_force)[:100],
            "updates": selectors.visible_updates(request.user, task_force)[:20],
            "why": explain(request.user, "view", task_force),
        },
    )
