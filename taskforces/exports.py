"""CSV exports of the task force lists a person can see: objectives, tasks and role
assignments.

Each export sits beside its page (``.../export.csv``) and builds its rows exactly as the
page does: the same permission-filtered queryset, the same FilterSet applied the same way
(``coordination.web.pages.filter_list``), so a filter means the same thing on both and a bad one is the
same 400 (before anything is written or audited). It exports every matching row, not one
page. ``coordination.web.exports.csv_response`` writes the file, neutralises cells a
spreadsheet would run as formulas, and records an ``export.csv`` audit event with the
filters and the row count.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from coordination.timefmt import format_date, format_moment
from coordination.web.exports import csv_response
from coordination.web.pages import filter_list

from . import selectors
from .filtersets import ObjectiveFilter, TaskListFilter
from .models import Objective, RoleAssignment
from .views._pages import task_force_or_404


def _date(value: datetime.date | None) -> str:
    """A date the portal's one way, "6 December 2026" (coordination.timefmt)."""
    return format_date(value)


def _moment(value: datetime.datetime | None) -> str:
    """A date and time in the reader's zone, with the zone: "6 December 2026, 14:05 GMT"."""
    return format_moment(value)


def _filters(request: HttpRequest) -> dict[str, str]:
    """The query parameters that shaped the export, as given (for the audit trail)."""
    return {key: request.GET.get(key, "") for key in request.GET if key != "page"}


# --- objectives --------------------------------------------------------------------------

OBJECTIVE_HEADER = (
    "ID",
    "Title",
    "Marking",
    "Status",
    "Priority",
    "Owner agency",
    "Contributing agencies",
    "Target date",
    "Operational period",
    "Progress (%)",
    "Tasks done",
    "Tasks (not cancelled)",
    "Updated",
)


def _objective_rows(objectives: Any) -> Iterator[list[Any]]:
    for o in objectives:
        yield [
            o.pk,
            o.title,
            o.get_marking_display(),
            o.get_status_display(),
            o.get_priority_display(),
            o.owner_agency.name,
            "; ".join(a.name for a in o.contributing_agencies.all()),
            _date(o.target_date),
            o.period.number if o.period else "",
            o.progress,
            o.task_done,
            o.task_total,
            _moment(o.updated_at),
        ]


@login_required
@require_GET
def objectives_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The objectives board (``taskforces:objectives``) as CSV, with its filters."""
    task_force = task_force_or_404(request, pk)
    base = (
        selectors.visible_objectives(request.user, task_force)
        .select_related("period")
        .prefetch_related("contributing_agencies")
    )
    objectives = filter_list(request, ObjectiveFilter(request.GET or None, queryset=base))
    return csv_response(
        actor=request.user,
        kind="objectives",
        header=OBJECTIVE_HEADER,
        rows=_objective_rows(objectives),
        filters=_filters(request),
        scope=task_force,
    )


# --- tasks -------------------------------------------------------------------------------

TASK_HEADER = (
    "ID",
    "Title",
    "Marking",
    "Status",
    "Objective ID",
    "Objective",
    "Assigned to",
    "Assigned role",
    "Due date",
    "Operational period",
    "Updated",
)


def _task_rows(tasks: Any) -> Iterator[list[Any]]:
    for t in tasks:
        yield [
            t.pk,
            t.title,
            t.objective.get_marking_display(),
            t.get_status_display(),
            t.objective_id,
            t.objective.title,
            str(t.assignee) if t.assignee else "",
            t.assigned_role.name if t.assigned_role else "",
            _date(t.due_date),
            t.period.number if t.period else "",
            _moment(t.updated_at),
        ]


@login_required
@require_GET
def tasks_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The tasks page (``taskforces:tasks``) as CSV, with its filters."""
    task_force = task_force_or_404(request, pk)
    filterset = TaskListFilter(
        request.GET or None,
        queryset=selectors.visible_tasks(request.user, task_force).select_related("period"),
        objectives=Objective.objects.restrict(request.user, "view").filter(task_force=task_force),
    )
    return csv_response(
        actor=request.user,
        kind="tasks",
        header=TASK_HEADER,
        rows=_task_rows(filter_list(request, filterset)),
        filters=_filters(request),
        scope=task_force,
    )


# --- role assignments --------------------------------------------------------------------

ASSIGNMENT_HEADER = (
    "ID",
    "Role ID",
    "Role",
    "Person",
    "Agency",
    "Starts",
    "Ends",
    "Assigned by",
)


def _assignment_rows(assignments: Any) -> Iterator[list[Any]]:
    for a in assignments:
        yield [
            a.pk,
            a.role_id,
            a.role.name,
            str(a.person),
            a.agency.name,
            _moment(a.starts_at),
            _moment(a.ends_at),
            str(a.assigned_by) if a.assigned_by else "",
        ]


@login_required
@require_GET
def assignments_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The holders on the organisation page (``taskforces:organisation``) as CSV: one row
    per current assignment, in the page's order of roles. The page has no filters, so
    neither has the export (the query string is ignored by both)."""
    task_force = task_force_or_404(request, pk)
    assignments = (
        RoleAssignment.objects.current()
        .restrict(request.user, "view")
        .filter(role__task_force=task_force)
        .select_related("role", "person", "agency", "assigned_by")
        .order_by("role__order", "role__name", "-starts_at", "-id")
    )
    return csv_response(
        actor=request.user,
        kind="role-assignments",
        header=ASSIGNMENT_HEADER,
        rows=_assignment_rows(assignments),
        filters=_filters(request),
        scope=task_force,
    )
