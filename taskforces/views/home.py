"""The dashboard: what needs the person's attention across their task forces."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from agencies.models import Agency
from coordination.web.pages import AuthenticatedHttpRequest

from .. import selectors
from ..models import Participation, RoleAssignment


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My task forces and roles, my tasks by due date, updates waiting for my
    acknowledgement, my agency's pending invitations (liaisons), pending applications
    (portal administrators), my agency's role assignments due for recertification
    (agency administrators)."""
    user = request.user

    def due_for_recertification() -> int:
        # called by the template for agency administrators only: no query for anyone else
        return RoleAssignment.objects.due_for_recertification().restrict(user, "recertify").count()

    context: dict[str, Any] = {
        "task_forces": selectors.task_forces_for(user).order_by("name")[:20],
        "assignments": selectors.my_current_assignments(user)[:50],
        "tasks": selectors.my_open_tasks(user)[:20],
        "to_acknowledge": selectors.updates_awaiting_my_acknowledgement(user)[:20],
        "invitations": Participation.objects.restrict(user, "respond")
        .filter(status=Participation.Status.INVITED)
        .select_related("task_force__lead_agency", "agency")[:20],
        "due_for_recertification": due_for_recertification,
    }
    if user.is_portal_admin:
        context["applications"] = (
            Agency.objects.restrict(user, "review")
            .filter(status__in=(Agency.Status.APPLIED, Agency.Status.UNDER_REVIEW))
            .order_by("applied_at")[:20]
        )
    return render(request, "taskforces/dashboard.html", context)
