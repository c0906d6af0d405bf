"""Operational periods: the list, planning, editing and removing one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from coordination.permissions import can, require
from coordination.web.pages import AuthenticatedHttpRequest, visible_or_404

from .. import forms, services
from ..models import OperationalPeriod
from ._pages import form_page, task_force_or_404


@login_required
def period_list(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The task force's operational periods, the running one marked."""
    task_force = task_force_or_404(request, pk)
    periods = list(
        OperationalPeriod.objects.restrict(request.user, "view")
        .filter(task_force=task_force)
        .order_by("number")
    )
    now = timezone.now()
    return render(
        request,
        "taskforces/periods/list.html",
        {
            "task_force": task_force,
            "periods": periods,
            "current": next((p for p in periods if p.starts_at <= now < p.ends_at), None),
            "may_plan": can(request.user, "manage_objectives", task_force),
        },
    )


@login_required
def period_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "manage_objectives", task_force)
    return form_page(
        request,
        forms.PeriodForm(request.POST or None),
        save=lambda data: services.create_period(task_force=task_force, by=request.user, **data),
        saved=lambda period: f"Operational period {period.number} is planned.",
        then=lambda _: reverse("taskforces:periods", args=[task_force.pk]),
        context={
            "title": f"Plan an operational period for {task_force}",
            "submit": "Add period",
            "task_force": task_force,
        },
    )


@login_required
def period_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    period = visible_or_404(
        OperationalPeriod.objects.select_related("task_force"), request.user, pk
    )
    require(request.user, "change", period)
    initial = {
        "number": period.number,
        "starts_at": timezone.localtime(period.starts_at),
        "ends_at": timezone.localtime(period.ends_at),
        "notes": period.notes,
    }
    return form_page(
        request,
        forms.PeriodForm(request.POST or None, initial=initial),
        save=lambda data: services.update_period(period=period, by=request.user, **data),
        saved="Operational period saved.",
        then=lambda _: reverse("taskforces:periods", args=[period.task_force_id]),
        context={
            "title": f"Edit operational period {period.number}",
            "submit": "Save",
            "task_force": period.task_force,
        },
    )


@login_required
def period_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Remove a period after a confirmation; its objectives and tasks stay, untied."""
    period = visible_or_404(
        OperationalPeriod.objects.select_related("task_force"), request.user, pk
    )
    require(request.user, "change", period)
    if request.method == "POST":
        services.delete_period(period=period, by=request.user)
        messages.success(request, f"Operational period {period.number} is removed.")
        return redirect("taskforces:periods", period.task_force_id)
    return render(
        request,
        "taskforces/periods/delete.html",
        {
            "period": period,
            "task_force": period.task_force,
            "tied_objectives": period.objectives.count(),
            "tied_tasks": period.tasks.count(),
        },
    )
