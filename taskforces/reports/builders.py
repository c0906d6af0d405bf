"""Build each ICS form as plain data for one viewer and one operational period.

Every row comes from a queryset restricted by the permission core for the viewer
(``Model.objects.restrict(viewer, "view")``), so a report never holds a row its reader
could not open in Concord. Each builder runs a fixed number of queries, however much
data the task force holds.

Items with a marking (objectives, their tasks, updates) carry their own; what has none
of its own (roles and holders, period notes, timeline entries about the task force, its
roles or assignments) carries the task force's marking, since it is the task force's
information.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from agencies.models import Agency
from coordination.models import User

from ..models import (
    HandoverBrief,
    Objective,
    OperationalPeriod,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)
from ..selectors import with_progress
from ..timeline import excerpt
from .data import Report, Row, Section, day, moment

# --- shared pieces ----------------------------------------------------------------------------


def during(period: OperationalPeriod, prefix: str = "") -> Q:
    """Assignments that conferred their role at some moment of the period."""
    return (
        Q(**{f"{prefix}starts_at__lt": period.ends_at})
        & (
            Q(**{f"{prefix}ended_at__isnull": True})
            | Q(**{f"{prefix}ended_at__gt": period.starts_at})
        )
        & (
            Q(**{f"{prefix}ends_at__isnull": True})
            | Q(**{f"{prefix}ends_at__gt": period.starts_at})
        )
    )


def holding_at(role_id: int, moment_ref: str, person_ref: str) -> Exists:
    """Subquery: the person (``person_ref``) held the role at the time in ``moment_ref``."""
    at = OuterRef(moment_ref)
    return Exists(
        RoleAssignment.objects.filter(
            role_id=role_id, person_id=OuterRef(person_ref), starts_at__lte=at
        )
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
    )


def assignments_during(viewer: Any, task_force: TaskForce, period: OperationalPeriod) -> Any:
    return (
        RoleAssignment.objects.restrict(viewer, "view")
        .filter(role__task_force=task_force)
        .filter(during(period))
    )


def until(assignment: RoleAssignment) -> datetime.datetime | None:
    ends = [t for t in (assignment.ended_at, assignment.ends_at) if t is not None]
    return min(ends) if ends else None


def assignee_text(task: Task) -> str:
    if task.assignee_id:
        return str(task.assignee)
    if task.assigned_role_id:
        return f"Holders of {task.assigned_role.name}"  # type: ignore[union-attr]
    return "Not assigned"


# --- ICS 202: incident objectives ----------------------------------------------------------------


def build_ics202(*, viewer: Any, task_force: TaskForce, period: OperationalPeriod) -> Report:
    """The objectives tied to the period, most important first, with the period's notes."""
    objectives = (
        with_progress(
            Objective.objects.restrict(viewer, "view").filter(task_force=task_force, period=period)
        )
        .select_related("owner_agency")
        .prefetch_related(
            Prefetch("contributing_agencies", queryset=Agency.objects.order_by("name"))
        )
        .order_by("-priority", F("target_date").asc(nulls_last=True), "id")
    )
    rows = [
        Row(
            (
                objective.title,
                objective.get_priority_display(),
                str(objective.owner_agency),
                ", ".join(a.acronym or a.name for a in objective.contributing_agencies.all()),
                objective.get_status_display(),
                f"{objective.progress}%",
                day(objective.target_date),
            ),
            int(objective.marking),
        )
        for objective in objectives
    ]
    return Report(
        form="ics-202",
        number="ICS 202",
        title="Incident objectives",
        task_force=task_force,
        period=period,
        viewer=viewer,
        columns=(
            "Objective",
            "Priority",
            "Owner agency",
            "Contributing",
            "Status",
            "Progress",
            "Target date",
        ),
        weights=(4, 1.2, 2.2, 1.6, 1.3, 1, 1.3),
        sections=[
            Section("Objectives", rows, empty="No objectives you can see are tied to this period.")
        ],
        notes=period.notes,
        notes_marking=int(task_force.marking),
    )


# --- ICS 203: organisation assignment list ---------------------------------------------------


def build_ics203(*, viewer: Any, task_force: TaskForce, period: OperationalPeriod) -> Report:
    """Every role of the task force with whoever held it during the period, and their
    agency; a role nobody held is listed as vacant."""
    roles = list(
        Role.objects.restrict(viewer, "view")
        .filter(task_force=task_force)
        .order_by("order", "name")
    )
    held: dict[int, list[RoleAssignment]] = defaultdict(list)
    for assignment in (
        assignments_during(viewer, task_force, period)
        .select_related("person", "agency")
        .order_by("starts_at", "id")
    ):
        held[assignment.role_id].append(assignment)
    marking = int(task_force.marking)
    rows: list[Row] = []
    for role in roles:
        for assignment in held.get(role.pk, []):
            rows.append(
                Row(
                    (
                        role.name,
                        str(assignment.person),
                        str(assignment.agency),
                        moment(assignment.starts_at),
                        moment(until(assignment)),
                    ),
                    marking,
                )
            )
        if not held.get(role.pk):
            rows.append(Row((role.name, "Vacant", "", "", ""), marking))
    return Report(
        form="ics-203",
        number="ICS 203",
        title="Organisation assignment list",
        task_force=task_force,
        period=period,
        viewer=viewer,
        columns=("Role", "Holder", "Agency", "From", "Until"),
        weights=(2.5, 2.5, 3, 1.6, 1.6),
        sections=[Section("Roles and holders", rows, empty="This task force has no roles.")],
    )


# --- ICS 204: assignment list ---------------------------------------------------------------------

VACANT = "Role vacant in this period"
NO_ROLE = "Assignee held no role in this period"
NOT_ASSIGNED = "Not assigned"


def period_tasks(viewer: Any, task_force: TaskForce, period: OperationalPeriod) -> QuerySet[Task]:
    """Tasks of the period: tied to it, or without a period of their own under an
    objective tied to it."""
    return (
        Task.objects.restrict(viewer, "view")
        .filter(task_force=task_force)
        .filter(Q(period=period) | Q(period__isnull=True, objective__period=period))
        .select_related("objective", "assignee", "assigned_role")
        .order_by(F("due_date").asc(nulls_last=True), "id")
    )


def build_ics204(
    *,
    viewer: Any,
    task_force: TaskForce,
    period: OperationalPeriod,
    group: str = "role",
    role: Role | None = None,
    agency: Agency | None = None,
) -> Report:
    """The period's tasks grouped by role or by agency. A task for a role is listed under
    that role (and under each agency whose people held it in the period); a task for a
    person under each role that person held in the period (and each agency they held it
    for). ``role`` or ``agency`` narrows the list to one group."""
    tasks = list(period_tasks(viewer, task_force, period))
    roles_of_person: dict[int, set[int]] = defaultdict(set)
    agencies_of_person: dict[int, set[int]] = defaultdict(set)
    agencies_of_role: dict[int, set[int]] = defaultdict(set)
    for person_id, role_id, agency_id in assignments_during(viewer, task_force, period).values_list(
        "person_id", "role_id", "agency_id"
    ):
        roles_of_person[person_id].add(role_id)
        agencies_of_person[person_id].add(agency_id)
        agencies_of_role[role_id].add(agency_id)

    if group == "agency":
        names = dict(
            Agency.objects.filter(
                participations__task_force=task_force,
            ).values_list("pk", "name")
        )
        order = sorted(names, key=lambda pk: names[pk].lower())

        def keys(task: Task) -> set[int]:
            if task.assigned_role_id:
                return agencies_of_role.get(task.assigned_role_id, set())
            return agencies_of_person.get(task.assignee_id, set()) if task.assignee_id else set()

        chosen = agency.pk if agency else None
    else:
        role_list = list(
            Role.objects.restrict(viewer, "view")
            .filter(task_force=task_force)
            .order_by("order", "name")
            .values_list("pk", "name")
        )
        names = dict(role_list)
        order = [pk for pk, _ in role_list]

        def keys(task: Task) -> set[int]:
            if task.assigned_role_id:
                return {task.assigned_role_id}
            return roles_of_person.get(task.assignee_id, set()) if task.assignee_id else set()

        chosen = role.pk if role else None

    grouped: dict[Any, list[Row]] = defaultdict(list)
    for task in tasks:
        row = Row(
            (
                task.title,
                task.objective.title,
                assignee_text(task),
                day(task.due_date),
                task.get_status_display(),
            ),
            int(task.marking),
        )
        found = keys(task)
        if found:
            for key in found:
                grouped[key].append(row)
        else:
            fallback = (
                VACANT if task.assigned_role_id else NO_ROLE if task.assignee_id else NOT_ASSIGNED
            )
            grouped[fallback].append(row)

    label = "Agency" if group == "agency" else "Role"
    if chosen is not None:
        sections = [Section(names[chosen], grouped.get(chosen, []), empty="No tasks.")]
        subject = f"{label}: {names[chosen]}"
    else:
        sections = [Section(names[key], grouped[key]) for key in order if grouped.get(key)]
        sections += [
            Section(key, grouped[key])
            for key in (VACANT, NO_ROLE, NOT_ASSIGNED)
            if grouped.get(key)
        ]
        subject = f"Grouped by {label.lower()}"
    if not sections:
        sections = [
            Section(f"All {label.lower()}s", [], empty="No tasks you can see in this period.")
        ]
    return Report(
        form="ics-204",
        number="ICS 204",
        title="Assignment list",
        task_force=task_force,
        period=period,
        viewer=viewer,
        columns=("Task", "Objective", "Assigned to", "Due date", "Status"),
        weights=(3.5, 3, 2.5, 1.3, 1.3),
        sections=sections,
        subject=subject,
        group_label=label,
        parameters={"group": group, **({label.lower(): str(chosen)} if chosen else {})},
    )


# --- ICS 214: activity log ---------------------------------------------------------------------


def build_ics214(
    *,
    viewer: Any,
    task_force: TaskForce,
    period: OperationalPeriod,
    person: User | None = None,
    role: Role | None = None,
) -> Report:
    """What one person, or the holders of one role while they held it, did in the task
    force during the period, oldest first: the task force's timeline
    (``taskforces.timeline``) narrowed to them, as far as the viewer may see it — every
    change they made there, the updates they posted and the log entries they wrote."""
    if (person is None) == (role is None):
        raise ValueError("An activity log is of one person or of one role.")
    entries = (
        TimelineEntry.objects.restrict(viewer, "view")
        .filter(
            task_force=task_force,
            occurred_at__gte=period.starts_at,
            occurred_at__lt=period.ends_at,
        )
        .select_related("actor")
        .order_by("occurred_at", "id")
    )
    if role is not None:
        entries = entries.filter(holding_at(role.pk, "occurred_at", "actor_id"))
        subject = f"Role: {role.name}"
        parameters = {"role": str(role.pk)}
    elif person is not None:
        entries = entries.filter(actor_id=person.pk)
        subject = f"Person: {person}"
        parameters = {"person": str(person.pk)}
    rows = [
        Row(
            (
                moment(entry.occurred_at),
                str(entry.actor) if entry.actor_id else entry.actor_label,
                entry.summary,
                entry.subject,
                excerpt(entry.text),
            ),
            int(entry.marking),
        )
        for entry in entries
    ]
    return Report(
        form="ics-214",
        number="ICS 214",
        title="Activity log",
        task_force=task_force,
        period=period,
        viewer=viewer,
        columns=("Time", "Person", "Activity", "About", "Details"),
        weights=(1.5, 2, 2.3, 2.6, 4),
        sections=[
            Section("Activity", rows, empty="No activity you can see in this period."),
        ],
        subject=subject,
        parameters=parameters,
    )


# --- ICS 201: incident briefing --------------------------------------------------------------


def build_ics201(*, viewer: Any, task_force: TaskForce, period: OperationalPeriod) -> Report:
    """The briefing for the start of a period, from the data, as the viewer may see it:
    the situation (the latest situation reports), the period's objectives, the
    organisation, the resources and their assignments (the period's tasks by role), every
    open task, and the handover briefs written for this period."""
    sitreps = (
        Update.objects.restrict(viewer, "view")
        .filter(task_force=task_force, kind=Update.Kind.SITREP, created_at__lt=period.ends_at)
        .select_related("author")
        .order_by("-created_at", "-id")[:5]
    )
    situation = [
        Row(
            (
                moment(update.created_at),
                str(update.author) if update.author_id else "",
                update.title,
                excerpt(update.body),
            ),
            int(update.marking),
        )
        for update in sitreps
    ]
    objectives = build_ics202(viewer=viewer, task_force=task_force, period=period)
    organisation = build_ics203(viewer=viewer, task_force=task_force, period=period)
    work = build_ics204(viewer=viewer, task_force=task_force, period=period, group="role")
    assignments = [
        Row((section.heading, *row.cells), row.marking)
        for section in work.sections
        for row in section.rows
    ]
    open_tasks = [
        Row(
            (
                task.title,
                task.objective.title,
                assignee_text(task),
                day(task.due_date),
                task.get_status_display(),
            ),
            int(task.marking),
        )
        for task in Task.objects.restrict(viewer, "view")
        .filter(
            task_force=task_force,
            status__in=(Task.Status.TODO, Task.Status.IN_PROGRESS, Task.Status.BLOCKED),
        )
        .select_related("objective", "assignee", "assigned_role")
        .order_by(F("due_date").asc(nulls_last=True), "id")
    ]
    briefs = [
        Row(
            (
                brief.role.name,
                str(brief.written_by) if brief.written_by_id else "",
                brief.open_tasks,
                brief.risks,
                brief.contacts,
                brief.notes,
                f"{brief.acknowledged_by}, {moment(brief.acknowledged_at)}"
                if brief.acknowledged_at
                else "Not yet",
            ),
            int(brief.marking),
        )
        for brief in HandoverBrief.objects.restrict(viewer, "view")
        .filter(task_force=task_force, next_period=period)
        .select_related("role", "written_by", "acknowledged_by")
        .order_by("role__order", "role__name", "id")
    ]
    return Report(
        form="ics-201",
        number="ICS 201",
        title="Incident briefing",
        task_force=task_force,
        period=period,
        viewer=viewer,
        columns=("Posted", "By", "Title", "Situation"),
        weights=(1.5, 2, 3, 6),
        sections=[
            Section("1. Situation", situation, empty="No situation report you can see yet."),
            Section(
                "2. Objectives",
                objectives.sections[0].rows,
                empty="No objectives you can see are tied to this period.",
                columns=objectives.columns,
                weights=objectives.weights,
            ),
            Section(
                "3. Organisation",
                organisation.sections[0].rows,
                empty="This task force has no roles.",
                columns=organisation.columns,
                weights=organisation.weights,
            ),
            Section(
                "4. Resources and assignments",
                assignments,
                empty="No tasks you can see in this period.",
                columns=("Role", *work.columns),
                weights=(2, *work.weights),
            ),
            Section(
                "5. Open tasks",
                open_tasks,
                empty="No open task you can see.",
                columns=("Task", "Objective", "Assigned to", "Due date", "Status"),
                weights=(3.5, 3, 2.5, 1.3, 1.3),
            ),
            Section(
                "6. Handover briefs",
                briefs,
                empty="No handover brief you can see was written for this period.",
                columns=(
                    "Role",
                    "From",
                    "Open tasks",
                    "Risks",
                    "Contacts",
                    "Notes",
                    "Acknowledged",
                ),
                weights=(1.6, 1.6, 3, 2.4, 2, 2.4, 1.8),
            ),
        ],
        notes=period.notes,
        notes_marking=int(task_force.marking),
    )


# --- the forms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormSpec:
    """A report form: its builder and the query parameters it takes besides ``period``
    and ``format``."""

    slug: str
    number: str
    title: str
    description: str
    build: Callable[..., Report]
    options: tuple[str, ...] = ()


FORMS: dict[str, FormSpec] = {
    spec.slug: spec
    for spec in (
        FormSpec(
            "ics-202",
            "ICS 202",
            "Incident objectives",
            "The objectives tied to the period, with priority, owner, status and target date, and the period's notes.",
            build_ics202,
        ),
        FormSpec(
            "ics-203",
            "ICS 203",
            "Organisation assignment list",
            "Every role, who held it during the period and for which agency.",
            build_ics203,
        ),
        FormSpec(
            "ics-204",
            "ICS 204",
            "Assignment list",
            "The period's tasks per role or per agency, with assignee, due date and status.",
            build_ics204,
            options=("group", "role", "agency"),
        ),
        FormSpec(
            "ics-214",
            "ICS 214",
            "Activity log",
            "What one person, or one role's holders, did during the period.",
            build_ics214,
            options=("person", "role"),
        ),
    )
}
