"""Handover between operational periods: the person's own handovers (to write, to
acknowledge), writing and reading a brief, the commander's view of which roles have not
handed over or not been acknowledged, and the ICS 201 incident briefing of a period."""

from __future__ import annotations

from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from coordination import audit
from coordination.permissions import PermissionDenied, can, explain, require
from coordination.web.pages import AuthenticatedHttpRequest, visible_or_404

from .. import forms, services
from ..models import HandoverBrief, OperationalPeriod, RoleAssignment, TaskForce
from ..reports.builders import build_ics201
from ..reports.pdf import render_pdf
from ._pages import form_page, task_force_or_404


class PeriodQuery(django_forms.Form):
    period = django_forms.IntegerField(min_value=1, max_value=2_147_483_647, required=False)


def chosen_period(request: HttpRequest, task_force: TaskForce) -> OperationalPeriod | None:
    """The period named by ``?period=<number>`` (a 400 when it is not one of the task
    force's), or else the period running now, or else the latest that has started."""
    unknown = sorted(set(request.GET) - {"period"})
    if unknown:
        raise BadRequest(f"Unknown parameter: {', '.join(unknown)}.")
    query = PeriodQuery(request.GET)
    if not query.is_valid():
        raise BadRequest(f"period: {' '.join(str(m) for m in query.errors['period'])}")
    periods = OperationalPeriod.objects.filter(task_force=task_force)
    number = query.cleaned_data.get("period")
    if number is not None:
        found = periods.filter(number=number).first()
        if found is None:
            raise BadRequest(f"period: {task_force} has no operational period {number}.")
        return found
    now = timezone.now()
    return (
        periods.filter(starts_at__lte=now, ends_at__gt=now).first()
        or periods.filter(starts_at__lte=now).order_by("-starts_at").first()
    )


def handover_rows(period: OperationalPeriod) -> list[dict[str, Any]]:
    """Each assignment held during the period with its brief's state: continues into the
    next period (no brief needed), not handed over, awaiting acknowledgement,
    acknowledged. (Who handed over is the task force's own
    business, seen by whoever sees it; a brief's text follows its marking.)"""
    briefs = {
        brief.assignment_id: brief
        for brief in HandoverBrief.objects.filter(period=period).select_related("acknowledged_by")
    }
    leaving = set(services.outgoing(period).values_list("pk", flat=True))
    rows = []
    for assignment in (
        services.holders_during(period)
        .select_related("role", "person", "agency")
        .order_by("role__order", "role__name", "starts_at", "id")
    ):
        brief = briefs.get(assignment.pk)
        if brief is None and assignment.pk not in leaving:
            state, tag = "Continues (no handover needed)", "govuk-tag--grey"
        elif brief is None:
            state, tag = "Not handed over", "govuk-tag--red"
        elif brief.acknowledged_at is None:
            state, tag = "Awaiting acknowledgement", "govuk-tag--yellow"
        else:
            state, tag = "Acknowledged", "govuk-tag--green"
        rows.append({"assignment": assignment, "brief": brief, "state": state, "tag": tag})
    return rows


@login_required
def handover_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """For commanders (those who may edit the task force): which roles of a period have
    not handed over, and which briefs are not yet acknowledged."""
    task_force = task_force_or_404(request, pk)
    require(request.user, "change", task_force)
    period = chosen_period(request, task_force)
    rows = handover_rows(period) if period else []
    visible = set(
        HandoverBrief.objects.restrict(request.user, "view")
        .filter(period=period)
        .values_list("pk", flat=True)
    )
    return render(
        request,
        "taskforces/handover/status.html",
        {
            "task_force": task_force,
            "period": period,
            "next_period": services.next_period_of(period) if period else None,
            "rows": rows,
            "visible": visible,
            "missing": sum(1 for row in rows if row["state"] == "Not handed over"),
            "unacknowledged": sum(
                1 for row in rows if row["brief"] and not row["brief"].acknowledged_at
            ),
            "periods": OperationalPeriod.objects.filter(task_force=task_force).order_by("number"),
        },
    )


@login_required
def my_handovers(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The person's handovers in a task force: their roles of the period to hand over,
    and the briefs that await their acknowledgement."""
    task_force = task_force_or_404(request, pk)
    period = chosen_period(request, task_force)
    mine: list[dict[str, Any]] = []
    if period is not None:
        mine = [
            row for row in handover_rows(period) if row["assignment"].person_id == request.user.pk
        ]
    awaiting = (
        HandoverBrief.objects.restrict(request.user, "view")
        .filter(task_force=task_force, acknowledged_at__isnull=True)
        .exclude(written_by=request.user)
        .filter(services.taken_over_by(request.user))
        .select_related("role", "written_by", "next_period", "period")
        .order_by("next_period__number", "role__order", "id")
    )
    return render(
        request,
        "taskforces/handover/mine.html",
        {
            "task_force": task_force,
            "period": period,
            "next_period": services.next_period_of(period) if period else None,
            "mine": mine,
            "awaiting": awaiting,
            "may_command": can(request.user, "change", task_force),
            "periods": OperationalPeriod.objects.filter(task_force=task_force).order_by("number"),
        },
    )


@login_required
def brief_write(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The outgoing holder writes the brief of one of their assignments for a period."""
    assignment = visible_or_404(
        RoleAssignment.objects.select_related("role__task_force"), request.user, pk
    )
    task_force = assignment.role.task_force
    require(request.user, "view", task_force)
    if assignment.person_id != request.user.pk:
        raise PermissionDenied("Only the holder of the role writes its handover brief.")
    period = chosen_period(request, task_force)  # the form posts to its own address
    if period is None:
        raise BadRequest("period: this task force has no operational period yet.")
    initial = {"open_tasks": services.open_tasks_text(assignment, request.user)}
    form = forms.HandoverBriefForm(request.POST or None, initial=initial, task_force=task_force)
    return form_page(
        request,
        form,
        save=lambda data: services.write_handover_brief(
            assignment=assignment, period=period, by=request.user, **data
        ),
        saved="Handover brief written: the incoming holders are told it awaits them.",
        then=lambda brief: reverse("taskforces:handover-brief", args=[brief.pk]),
        context={
            "title": f"Hand over {assignment.role.name} at the end of operational period {period.number}",
            "submit": "Submit the handover brief",
            "task_force": task_force,
        },
    )


@login_required
def brief_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    brief = visible_or_404(
        HandoverBrief.objects.select_related(
            "task_force", "role", "period", "next_period", "written_by", "acknowledged_by"
        ),
        request.user,
        pk,
    )
    may_acknowledge = (
        brief.acknowledged_at is None
        and not brief.task_force.is_closed
        and services.incoming_assignments(brief).filter(person_id=request.user.pk).exists()
    )
    return render(
        request,
        "taskforces/handover/brief.html",
        {
            "brief": brief,
            "task_force": brief.task_force,
            "may_acknowledge": may_acknowledge,
            "why": explain(request.user, "view", brief),
        },
    )


@login_required
@require_POST
def brief_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    brief = visible_or_404(HandoverBrief.objects.all(), request.user, pk)
    try:
        services.acknowledge_handover(brief=brief, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Handover brief acknowledged.")
    return redirect("taskforces:handover-brief", pk=brief.pk)


@login_required
@require_GET
def briefing(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The ICS 201 incident briefing of a period, from the data: a page, or
    ``?format=pdf`` (a download, recorded in the audit trail)."""
    period = visible_or_404(
        OperationalPeriod.objects.select_related("task_force__lead_agency"), request.user, pk
    )
    unknown = sorted(set(request.GET) - {"format"})
    if unknown:
        raise BadRequest(f"Unknown parameter: {', '.join(unknown)}.")
    fmt = request.GET.get("format", "html")
    if fmt not in ("html", "pdf"):
        raise BadRequest("format: choose html or pdf.")
    task_force = period.task_force
    report = build_ics201(viewer=request.user, task_force=task_force, period=period)
    if fmt == "pdf":
        content = render_pdf(report)
        audit.record(
            actor=request.user,
            action="export.pdf",
            obj=task_force,
            after={
                "kind": report.form,
                "period": period.number,
                "rows": report.row_count,
                "marking": report.marking_label,
            },
        )
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="concord-ics-201-tf{task_force.pk}-period-{period.number}.pdf"'
        )
        response["Cache-Control"] = "no-store"
        return response
    return render(
        request,
        "taskforces/handover/briefing.html",
        {"task_force": task_force, "report": report, "period": period},
    )
