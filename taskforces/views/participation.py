"""Participation: inviting an agency, its liaison's answer, and withdrawing it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from coordination.permissions import require
from coordination.web.pages import AuthenticatedHttpRequest, run_service, visible_or_404

from .. import forms, services
from ..models import Participation
from ._pages import form_page, task_force_or_404


@login_required
def invite_agency(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    task_force = task_force_or_404(request, pk)
    require(request.user, "manage_participation", task_force)
    return form_page(
        request,
        forms.InviteAgencyForm(request.POST or None, task_force=task_force),
        save=lambda data: services.invite_agency(task_force=task_force, by=request.user, **data),
        saved=lambda participation: (
            f"{participation.agency} is invited; its liaison officers will be told."
        ),
        then=lambda _: reverse("taskforces:detail", args=[task_force.pk]),
        context={
            "title": f"Invite an agency to {task_force}",
            "submit": "Invite",
            "task_force": task_force,
        },
    )


@login_required
def respond(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A liaison officer accepts or declines their agency's invitation."""
    participation = visible_or_404(
        Participation.objects.select_related("task_force__lead_agency", "agency"),
        request.user,
        pk,
        "respond",
    )
    form = forms.RespondForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        accept = form.cleaned_data["decision"] == "accept"
        done = run_service(
            form,
            lambda: services.respond_to_invitation(
                participation=participation,
                accept=accept,
                by=request.user,
                reason=form.cleaned_data["reason"],
            ),
        )
        if done is not None:
            if accept:
                messages.success(
                    request,
                    f"{participation.agency} takes part in {participation.task_force}. You hold its Liaison officer role and can assign your people.",
                )
                return redirect("taskforces:detail", participation.task_force_id)
            messages.success(request, f"You declined the invitation to {participation.task_force}.")
            return redirect("dashboard")
    return render(
        request, "taskforces/respond.html", {"form": form, "participation": participation}
    )


@login_required
def withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    participation = visible_or_404(
        Participation.objects.select_related("task_force", "agency"), request.user, pk
    )
    return form_page(
        request,
        forms.ReasonForm(request.POST or None),
        save=lambda data: services.withdraw_agency(
            participation=participation, by=request.user, reason=data["reason"]
        ),
        saved=f"{participation.agency} has withdrawn from {participation.task_force}; its people's roles there have ended.",
        then=lambda _: reverse("dashboard"),
        context={
            "title": f"Withdraw {participation.agency} from {participation.task_force}",
            "submit": "Withdraw",
            "danger": True,
            "task_force": participation.task_force,
        },
    )
