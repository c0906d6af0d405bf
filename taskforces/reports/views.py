"""Report pages: the index of a task force's forms and periods, and one form for one
period as a printable page, a PDF or a CSV. Every query parameter is checked; a wrong
one is a 400 that names it. PDF and CSV downloads are written to the audit trail (the
printable page is a page view like any other and is not)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_safe

from agencies.models import Agency
from coordination import audit
from coordination.models import User
from coordination.permissions import can
from coordination.web.exports import csv_response
from coordination.web.pages import visible_or_404

from ..models import OperationalPeriod, Role, RoleAssignment, TaskForce
from .builders import FORMS, FormSpec
from .data import Report
from .pdf import render_pdf

FORMATS = ("html", "pdf", "csv")


class ReportQuery(forms.Form):
    """The query string of a report. Which of the optional fields a form accepts is
    checked against its ``FormSpec``."""

    period = forms.IntegerField(min_value=1, max_value=2_147_483_647)
    format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], required=False)
    group = forms.ChoiceField(choices=[("role", "role"), ("agency", "agency")], required=False)
    person = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    role = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    agency = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


def _refuse(errors: dict[str, list[str]]) -> BadRequest:
    problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
    return BadRequest(f"Invalid report request — {problems}")


def parse_query(
    query: QueryDict, spec: FormSpec, task_force: TaskForce, viewer: Any
) -> tuple[OperationalPeriod, str, dict[str, Any]]:
    """The period, the format and the builder's options, or BadRequest naming every
    parameter that is wrong."""
    errors: dict[str, list[str]] = {}
    allowed = {"period", "format", *spec.options}
    for name in query:
        if name not in ReportQuery.base_fields:
            errors[name] = ["Unknown parameter."]
        elif name not in allowed:
            errors[name] = [f"{spec.number} does not take this parameter."]
        elif len(query.getlist(name)) > 1:
            errors[name] = ["Give this parameter once."]
    form = ReportQuery(query)
    if not form.is_valid():
        for name, messages in form.errors.items():
            errors.setdefault(name, [str(message) for message in messages])
    if errors:
        raise _refuse(errors)
    data = form.cleaned_data
    fmt = data.get("format") or "html"
    if fmt == "csv" and spec.slug not in CSV_FORMS:
        raise _refuse({"format": [f"{spec.number} has no CSV form."]})
    period = OperationalPeriod.objects.filter(task_force=task_force, number=data["period"]).first()
    if period is None:
        raise _refuse({"period": [f"{task_force} has no operational period {data['period']}."]})
    options: dict[str, Any] = {}
    if spec.slug == "ics-204":
        options = _ics204_options(data, task_force, viewer)
    elif spec.slug == "ics-214":
        options = _ics214_options(data, task_force, viewer)
    return period, fmt, options


def _ics204_options(data: dict[str, Any], task_force: TaskForce, viewer: Any) -> dict[str, Any]:
    group = data.get("group") or ("agency" if data.get("agency") else "role")
    options: dict[str, Any] = {"group": group}
    if data.get("role") is not None:
        if group != "role":
            raise _refuse({"role": ["Choose one role only when grouping by role."]})
        role = Role.objects.restrict(viewer, "view").filter(task_force=task_force, pk=data["role"])
        options["role"] = role.first()
        if options["role"] is None:
            raise _refuse({"role": [f"{task_force} has no such role."]})
    if data.get("agency") is not None:
        if group != "agency":
            raise _refuse({"agency": ["Choose one agency only when grouping by agency."]})
        options["agency"] = Agency.objects.filter(
            pk=data["agency"], participations__task_force=task_force
        ).first()
        if options["agency"] is None:
            raise _refuse({"agency": [f"That agency has never taken part in {task_force}."]})
    return options


def _ics214_options(data: dict[str, Any], task_force: TaskForce, viewer: Any) -> dict[str, Any]:
    person_id: int | None = data.get("person")
    role_id: int | None = data.get("role")
    if role_id is not None:
        if person_id is not None:
            raise _refuse({"person": ["Choose either a person or a role, not both."]})
        role = Role.objects.restrict(viewer, "view").filter(task_force=task_force, pk=role_id)
        found = role.first()
        if found is None:
            raise _refuse({"role": [f"{task_force} has no such role."]})
        return {"role": found}
    if person_id is None:
        raise _refuse({"person": ["Choose a person or a role."]})
    held = RoleAssignment.objects.restrict(viewer, "view").filter(
        role__task_force=task_force, person_id=person_id
    )
    person = User.objects.filter(pk=person_id, pk__in=held.values("person_id")).first()
    if person is None:
        raise _refuse({"person": [f"That person has never held a role in {task_force}."]})
    return {"person": person}


CSV_FORMS = frozenset(FORMS)  # every form is a table: objectives, holders, tasks, entries


def _filename(report: Report, extension: str) -> str:
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return (
        f"concord-{report.form}-tf{report.task_force.pk}-period-{_number(report)}"
        f"-{stamp}.{extension}"
    )


def _filters(report: Report) -> dict[str, str]:
    return {"form": report.form, "period": _number(report), **report.parameters}


def _number(report: Report) -> str:
    return str(report.period.number) if report.period else ""


@login_required
@require_GET  # not HEAD: a download is audited, so it is built only to be delivered
def report(request: HttpRequest, pk: int, form: str) -> HttpResponse:
    """One ICS form for one operational period: ``?period=<n>&format=html|pdf|csv``."""
    task_force = visible_or_404(TaskForce.objects.select_related("lead_agency"), request.user, pk)
    spec = FORMS.get(form)
    if spec is None:
        raise BadRequest(f"There is no report form {form!r}; the forms are {', '.join(FORMS)}.")
    period, fmt, options = parse_query(request.GET, spec, task_force, request.user)
    built = spec.build(viewer=request.user, task_force=task_force, period=period, **options)
    if fmt == "csv":
        return csv_response(
            actor=request.user,
            kind=built.form,
            header=built.csv_header(),
            rows=built.csv_rows(),
            filters=_filters(built),
            scope=task_force,
            filename=_filename(built, "csv"),
        )
    if fmt == "pdf":
        content = render_pdf(built)
        audit.record(
            actor=request.user,
            action="export.pdf",
            obj=task_force,
            after={
                "kind": built.form,
                "period": period.number,
                "rows": built.row_count,
                "marking": built.marking_label,
                "filters": _filters(built),
            },
        )
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{_filename(built, "pdf")}"'
        response["Cache-Control"] = "no-store"
        return response
    query = request.GET.copy()
    query.pop("format", None)
    return render(
        request,
        "taskforces/reports/report.html",
        {
            "task_force": task_force,
            "report": built,
            "spec": spec,
            "query": query.urlencode(),
        },
    )


@login_required
@require_safe
def index(request: HttpRequest, pk: int) -> HttpResponse:
    """The forms and the task force's periods, with the choices the forms take."""
    task_force = visible_or_404(TaskForce.objects.select_related("lead_agency"), request.user, pk)
    periods = list(
        OperationalPeriod.objects.restrict(request.user, "view")
        .filter(task_force=task_force)
        .order_by("-number")
    )
    now = timezone.now()
    roles = Role.objects.restrict(request.user, "view").filter(task_force=task_force)
    held = RoleAssignment.objects.restrict(request.user, "view").filter(role__task_force=task_force)
    return render(
        request,
        "taskforces/reports/index.html",
        {
            "task_force": task_force,
            "periods": periods,
            "current": next((p for p in periods if p.starts_at <= now < p.ends_at), None),
            "forms": FORMS,
            "roles": roles.order_by("order", "name"),
            "people": User.objects.filter(pk__in=held.values("person_id")).order_by(
                "last_name", "first_name", "email"
            ),
            "agencies": Agency.objects.filter(participations__task_force=task_force).order_by(
                "name"
            ),
            "may_plan": can(request.user, "manage_objectives", task_force),
        },
    )
