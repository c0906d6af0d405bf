"""Reads for task forces, always through the permission core."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from agencies.models import Agency
from coordination import db
from coordination.models import User
from coordination.permissions import InList, request_memory

from .access import access_for, current_conditions, seen_task_forces, visible_items
from .models import (
    Capability,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)
from .permissions import current_assignments
from .permissions.items import asked_condition
from .permissions.task_forces import TaskForcePolicy


def task_forces_for(user: Any) -> QuerySet[TaskForce]:
    """The task forces a person may see, with their lead agency."""
    return TaskForce.objects.restrict(user, "view").select_related("lead_agency")


# A task force by its id with its lead agency, among those the person may act on: every
# task force's page starts with it, and the queryset (``restrict``, ``select_related``,
# ``get``) cost four times its statement to build. The ids are ``restrict``'s, so a hidden
# task force and a missing one are read by the same statement and both found nothing.
_VISIBLE_TASK_FORCE = (
    f"SELECT {db.columns(TaskForce, 'tf')}, {db.columns(Agency, 'a')} "  # noqa: S608 - our SQL; values are parameters
    "FROM taskforces_taskforce tf JOIN agencies_agency a ON a.id = tf.lead_agency_id "
    "WHERE tf.id = %s AND tf.id = ANY(%s)"
)


def visible_task_force(user: Any, pk: int, action: str = "view") -> TaskForce | None:
    """The task force ``pk``, with its lead agency, if the person may ``action`` it:
    what ``TaskForce.objects.restrict(user, action).select_related("lead_agency")``
    finds, on PostgreSQL by one prepared statement."""
    if not 0 < pk < 2**63:  # no row has it (and PostgreSQL's bigint could not hold it)
        return None
    if connection.vendor != "postgresql":
        restricted = TaskForce.objects.restrict(user, action)
        return restricted.select_related("lead_agency").filter(pk=pk).first()
    ids = TaskForcePolicy.ids(user, action)
    if pk not in ids:
        ids = []  # (the same statement still runs: a hidden one and a missing one alike)
    found = db.joined(
        db.fetch_all(_VISIBLE_TASK_FORCE, (pk, ids)), TaskForce, "lead_agency", Agency
    )
    return found[0] if found else None


def sees_mandate(user: Any, task_force: TaskForce) -> bool:
    """Does the person see the task force's mandate? Its marking limits who does exactly as
    an item's marking does: only those who would see an item so marked there."""
    return access_for(user).sees(task_force.pk, task_force.marking)


def mandate_search(user: Any, value: str) -> Q:
    """Task forces whose name contains ``value``, or whose mandate does among those whose
    mandate the person sees (a search must not tell what a withheld mandate says)."""
    return Q(name__icontains=value) | (
        Q(mandate__icontains=value) & visible_items(access_for(user), "pk", "marking")
    )


def my_current_assignments(user: Any) -> QuerySet[RoleAssignment]:
    return (
        current_assignments(user)
        .select_related("role__task_force")
        .order_by("role__task_force__name", "role__order", "pk")
    )


def _task_count(tasks: QuerySet[Task]) -> Coalesce:
    """Subquery: how many of ``tasks`` belong to the outer objective."""
    counted = (
        tasks.filter(objective_id=OuterRef("pk"))
        .order_by()
        .values("objective_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_progress(objectives: QuerySet[Objective]) -> QuerySet[Objective]:
    """Annotate ``task_total`` and ``task_done`` (cancelled tasks do not count) in the same
    query, from which ``Objective.progress`` is the percent done.

    Subqueries per objective rather than a join and GROUP BY: a page computes them for its
    own rows only, and counting the list (the paginator) leaves them out altogether."""
    return objectives.annotate(
        task_total=_task_count(Task.objects.exclude(status=Task.Status.CANCELLED)),
        task_done=_task_count(Task.objects.filter(status=Task.Status.DONE)),
    )


def objective_progress(objective: Objective) -> int:
    counts = objective.tasks.exclude(status=Task.Status.CANCELLED).aggregate(
        total=Count("id"), done=Count("id", filter=Q(status=Task.Status.DONE))
    )
    # whole percent, rounded down like the annotated ``progress``
    return 100 * counts["done"] // counts["total"] if counts["total"] else 0


def organisation_chart(task_force: TaskForce) -> QuerySet[Role]:
    """Roles with their current holders and agencies (the ICS 203 view)."""
    # only what the chart shows of each holder: a national task force has hundreds, and
    # whole rows of people and agencies (passwords, contact details) cost more to build
    # than to read
    holders = (
        RoleAssignment.objects.current()
        .select_related("person", "agency")
        .only(
            "role_id",
            "person_id",
            "agency_id",
            "starts_at",
            "ends_at",
            "person__first_name",
            "person__last_name",
            "person__email",
            "agency__name",
            "agency__acronym",
        )
    )
    current_holders: Any = Prefetch("assignments", queryset=holders, to_attr="holders")
    return task_force.roles.prefetch_related(current_holders, "eligible_agencies")


@dataclass(slots=True)
class Holder:
    """A current holder of a role as the chart shows them: the assignment's own columns,
    the person named as everywhere (``User.name_of``) and their agency by its acronym, or
    its name when it has none. The page gives each its links (``until_link``,
    ``end_link``)."""

    pk: int
    role_id: int
    person_id: int
    agency_id: int
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None
    person: str
    agency: str
    until_link: str = ""
    end_link: str = ""

    @classmethod
    def of(cls, assignment: RoleAssignment) -> Holder:
        """The holder an assignment read by ``organisation_chart`` shows."""
        return cls(
            assignment.pk,
            assignment.role_id,
            assignment.person_id,
            assignment.agency_id,
            assignment.starts_at,
            assignment.ends_at,
            str(assignment.person),
            assignment.agency.acronym or assignment.agency.name,
        )


# The chart as its page shows it, on PostgreSQL in three prepared statements (the roles, the
# current holders with the few columns shown of each person and agency, the agencies each
# role is limited to): the ORM's prefetches cost more to build than to run, and a national
# task force's hundreds of holders are shown, not changed, so each is a ``Holder`` made
# from its row (154 holders: 1.4 ms, where 4.7 ms as three model instances each).
# Elsewhere the queryset answers; ``tests/taskforces/test_organisation_chart.py`` holds
# the two equal.
_CHART_ROLES = (
    f"SELECT {db.columns(Role, 'r')} FROM taskforces_role r "  # noqa: S608 - our SQL; values are parameters
    'WHERE r.task_force_id = %s ORDER BY r."order", r.name, r.id'
)
_CHART_HOLDERS = (
    "SELECT ra.id, ra.role_id, ra.person_id, ra.agency_id, ra.starts_at, ra.ends_at, "  # noqa: S608 - our SQL; values are parameters
    "p.first_name, p.last_name, p.email, COALESCE(NULLIF(a.acronym, ''), a.name) "
    "FROM taskforces_roleassignment ra JOIN taskforces_role r ON r.id = ra.role_id "
    "JOIN coordination_user p ON p.id = ra.person_id JOIN agencies_agency a ON a.id = ra.agency_id "
    f"WHERE r.task_force_id = %s AND {current_conditions()} "
    "ORDER BY ra.starts_at DESC, ra.id DESC"
)
_ELIGIBLE = Role.eligible_agencies.through._meta.db_table
_CHART_ELIGIBLE = (
    f"SELECT e.role_id, {db.columns(Agency, 'a')} FROM {_ELIGIBLE} e "  # noqa: S608 - our SQL; values are parameters
    "JOIN taskforces_role r ON r.id = e.role_id JOIN agencies_agency a ON a.id = e.agency_id "
    "WHERE r.task_force_id = %s ORDER BY a.name, a.id"
)


def chart_of(task_force: TaskForce) -> list[Role]:
    """``organisation_chart``'s roles, each with its current holders (``holders``, as
    ``Holder``) and the agencies it is limited to (``eligible``), as lists."""
    if connection.vendor != "postgresql":
        roles = list(organisation_chart(task_force))
        for role in roles:
            role.holders = [Holder.of(a) for a in role.holders]  # type: ignore[attr-defined]
            role.eligible = list(role.eligible_agencies.all())  # type: ignore[attr-defined]
        return roles
    role_of = db.maker(Role)
    roles = [role_of(row) for row in db.fetch_all(_CHART_ROLES, (task_force.pk,))]
    by_id = {role.pk: role for role in roles}
    for role in roles:
        role.holders, role.eligible = [], []  # type: ignore[attr-defined]
    now = timezone.now()
    name_of = User.name_of
    for row in db.fetch_all(_CHART_HOLDERS, (task_force.pk, now, now)):
        pk, role_id, person_id, agency_id, starts_at, ends_at, first, last, email, agency = row
        of_role = by_id.get(role_id)
        if of_role is None:  # a role added since the first statement read the roles
            continue
        person = name_of(first, last, email)
        holder = Holder(pk, role_id, person_id, agency_id, starts_at, ends_at, person, agency)
        of_role.holders.append(holder)  # type: ignore[attr-defined]
    eligible = db.fetch_all(_CHART_ELIGIBLE, (task_force.pk,))
    if eligible:
        agency_of = db.maker(Agency)
        for row in eligible:
            if row[0] in by_id:  # (as above)
                by_id[row[0]].eligible.append(agency_of(row[1:]))  # type: ignore[attr-defined]
    return roles


def visible_objectives(user: Any, task_force: TaskForce) -> QuerySet[Objective]:
    return (
        with_progress(Objective.objects.restrict(user, "view", within=task_force))
        .select_related("owner_agency")
        .order_by("-priority", F("target_date").asc(nulls_last=True), "id")
    )


def visible_updates(user: Any, task_force: TaskForce) -> QuerySet[Update]:
    return Update.objects.restrict(user, "view", within=task_force).select_related(
        "author", "author_agency"
    )


def visible_tasks(user: Any, task_force: TaskForce) -> QuerySet[Task]:
    """The tasks of a task force the person may see (the tasks page and its export)."""
    return (
        Task.objects.restrict(user, "view", within=task_force)
        .select_related("objective", "assignee", "assigned_role")
        .order_by(F("due_date").asc(nulls_last=True), "objective_id", "id")
    )


def current_holders(task_force: TaskForce) -> QuerySet[User]:
    """People holding a current role in the task force through an active, accepted agency."""
    accepted = Participation.objects.filter(
        task_force=task_force, status=Participation.Status.ACCEPTED
    ).values("agency_id")
    holding = RoleAssignment.objects.current().filter(
        role__task_force=task_force, agency__status=Agency.Status.ACTIVE, agency_id__in=accepted
    )
    return User.objects.filter(is_active=True, pk__in=holding.values("person_id")).order_by(
        "last_name", "first_name"
    )


def my_open_tasks(user: Any) -> QuerySet[Task]:
    """Tasks for me or for a role I hold now, not finished, soonest due first."""
    mine = Q(assignee_id=user.pk) | Q(InList("assigned_role_id", sorted(access_for(user).role_ids)))
    return (
        Task.objects.restrict(user, "view")
        .filter(mine)
        .exclude(status__in=(Task.Status.DONE, Task.Status.CANCELLED))
        .select_related("task_force", "objective")
        .order_by(F("due_date").asc(nulls_last=True), "id")
    )


def my_next_tasks(user: Any, first: int) -> QuerySet[Task]:
    """The ``first`` of ``my_open_tasks``, soonest due first. They are found among the
    tasks alone and only they are joined to their task force (what the dashboard shows
    with each): joining every open task before keeping the first ten took half the
    statement's time for a person with hundreds of roles (15 ms → 6 ms for 731 open
    tasks)."""
    ids = my_open_tasks(user).values("pk")[:first]
    return (
        Task.objects.filter(pk__in=ids)
        .select_related("task_force")
        .order_by(F("due_date").asc(nulls_last=True), "id")
    )


def awaiting_my_acknowledgement(user: Any, first: int) -> list[Update]:
    """The ``first`` newest updates waiting for the person's acknowledgement, read once per
    request: the critical banner every page shows and the dashboard's own list ask for
    them both, and the longer reading serves the shorter. Forgotten at the request's
    first write (an acknowledgement), as everything ``request_memory`` holds."""
    note = request_memory.remembered("taskforces.awaiting_acknowledgement")
    if note is not None:
        read = note.get(user.pk)
        if read is not None and read[0] >= first:
            return read[1][:first]
    if connection.vendor == "postgresql":
        rows = _newest_awaiting(user, first)
    else:
        rows = list(updates_awaiting_my_acknowledgement(user)[:first])
    if note is not None:
        note[user.pk] = (first, rows)
    return rows


def updates_awaiting_my_acknowledgement(user: Any) -> QuerySet[Update]:
    """Every update the person may acknowledge and has not, newest first: the permission
    core's "acknowledge" rule."""
    from .models import Acknowledgement

    done = Acknowledgement.objects.filter(person_id=user.pk).values("update_id")
    return (
        Update.objects.restrict(user, "acknowledge")
        .exclude(pk__in=done)
        .select_related("task_force", "author_agency")
        .order_by("-created_at", "-id")
    )


# The ``first`` newest of them on PostgreSQL, found without reading every update the person
# sees: in each task force they see, the newest updates that ask for acknowledgement (an
# index of those alone, newest first), marked no higher than they see there, asking them
# (the policy's own ``asked_condition``) and not acknowledged by them -- at most ``first``
# of each, then the ``first`` newest of all, with their task force and author agency. The
# same rule as the policy's, from the same access;
# ``tests/coordination/test_one_access_rule.py`` proves the two answer the same updates.
_NEWEST_AWAITING = (
    f"SELECT {db.columns(Update, 'x')}, {db.columns(TaskForce, 'tf')}, "  # noqa: S608 - our SQL; values are parameters
    f"{db.columns(Agency, 'ag')} "
    "FROM (SELECT w.id, w.created_at "
    "FROM unnest(%s::bigint[], %s::int[]) AS seen(task_force_id, top) "
    "CROSS JOIN LATERAL (SELECT u.id, u.created_at FROM taskforces_update u "
    "WHERE u.task_force_id = seen.task_force_id AND u.requires_acknowledgement "
    f"AND u.marking <= seen.top AND {asked_condition('u')} "
    "AND NOT EXISTS (SELECT 1 FROM taskforces_acknowledgement k "
    "WHERE k.update_id = u.id AND k.person_id = %s) "
    "ORDER BY u.created_at DESC, u.id DESC LIMIT %s) w "
    "ORDER BY w.created_at DESC, w.id DESC LIMIT %s) w "
    "JOIN taskforces_update x ON x.id = w.id "
    "JOIN taskforces_taskforce tf ON tf.id = x.task_force_id "
    "LEFT JOIN agencies_agency ag ON ag.id = x.author_agency_id "
    "ORDER BY w.created_at DESC, w.id DESC"
)
_SHAPE = (len(Update._meta.concrete_fields), len(TaskForce._meta.concrete_fields))


def _newest_awaiting(user: Any, first: int) -> list[Update]:
    """The ``first`` newest updates awaiting the person's acknowledgement, with their task
    force and author agency (as ``select_related`` gives them): one statement, prepared
    once per connection (``coordination.db``)."""
    held = access_for(user)
    ids, tops = seen_task_forces(held)
    if not ids:  # sees no task force: nothing to ask (and no query, as the ORM's rule)
        return []
    rows = db.fetch_all(
        _NEWEST_AWAITING,
        (ids, tops, sorted(held.role_ids), held.agency_id, user.pk, first, first),
    )
    if not rows:
        return []
    found = []
    update_of, task_force_of, agency_of = db.maker(Update), db.maker(TaskForce), db.maker(Agency)
    for row in rows:
        update = update_of(row[: _SHAPE[0]])
        update.task_force = task_force_of(row[_SHAPE[0] : sum(_SHAPE)])
        agency = row[sum(_SHAPE) :]
        update.author_agency = None if agency[0] is None else agency_of(agency)
        found.append(update)
    return found


# --- the dashboard's lists ----------------------------------------------------------------
#
# The three lists everyone with roles sees first on the dashboard -- their roles, their task
# forces, their next tasks -- are, on PostgreSQL, one prepared statement each
# (``coordination.db``) whose rows become the model instances the querysets above give:
# built through the ORM, each cost more to compile and to make into objects than to run
# (py-spy: over half of the page for a person with 3 roles; benchmarks/HISTORY.md). The
# querysets stay their definition, read from the same access;
# ``tests/coordination/test_one_access_rule.py`` proves both answer the same rows, in the
# same order, for every persona. Elsewhere (SQLite) the querysets answer.

# ``my_current_assignments``: the assignments of the roles behind the person's access, for
# their agency, current now; with their role and its task force
_MY_ASSIGNMENTS = (
    f"SELECT {db.columns(RoleAssignment, 'ra')}, {db.columns(Role, 'r')}, "  # noqa: S608 - our SQL; values are parameters
    f"{db.columns(TaskForce, 'tf')} "
    "FROM taskforces_roleassignment ra JOIN taskforces_role r ON r.id = ra.role_id "
    "JOIN taskforces_taskforce tf ON tf.id = r.task_force_id "
    "WHERE ra.role_id = ANY(%s::bigint[]) AND ra.person_id = %s AND ra.agency_id = %s "
    f"AND {current_conditions()} "
    'ORDER BY tf.name, r."order", ra.id LIMIT %s'
)
_ASSIGNMENT_SHAPE = (len(RoleAssignment._meta.concrete_fields), len(Role._meta.concrete_fields))

# ``task_forces_for``: the task forces the person sees, with their lead agency, by name
_MY_TASK_FORCES = (
    f"SELECT {db.columns(TaskForce, 'tf')}, {db.columns(Agency, 'a')} "  # noqa: S608 - our SQL; values are parameters
    "FROM taskforces_taskforce tf JOIN agencies_agency a ON a.id = tf.lead_agency_id "
    "WHERE tf.id = ANY(%s::bigint[]) ORDER BY tf.name, tf.id LIMIT %s"
)

# ``my_next_tasks``: the tasks for the person or a role they hold, not finished, in a task
# force they see and marked no higher than they see there (``seen_task_forces``), soonest
# due first; found from the person and from each role they hold (a task is given to a
# person or to a role, never both: ``task_has_one_kind_of_assignee``), then joined to
# their task force. Not found the other way round, from the task forces they see: under
# the generic plan a prepared statement keeps, that read every task of a person's 300 task
# forces (13,000 rows, 8.7 ms) where the roles' index finds their 2,000 tasks (2.2 ms)
_OPEN_TASK = f"t.status NOT IN ('{Task.Status.DONE.value}', '{Task.Status.CANCELLED.value}')"
_MY_NEXT_TASKS = (
    f"SELECT {db.columns(Task, 't')}, {db.columns(TaskForce, 'tf')} "  # noqa: S608 - our SQL; values are parameters
    "FROM (SELECT mine.id FROM ("
    "SELECT t.id, t.task_force_id, t.marking, t.due_date FROM taskforces_task t "
    f"WHERE t.assignee_id = %s AND {_OPEN_TASK} "
    "UNION ALL SELECT t.id, t.task_force_id, t.marking, t.due_date "
    "FROM unnest(%s::bigint[]) AS held(role_id) "
    f"JOIN taskforces_task t ON t.assigned_role_id = held.role_id WHERE {_OPEN_TASK}) mine "
    "JOIN unnest(%s::bigint[], %s::int[]) AS seen(task_force_id, top) "
    "ON seen.task_force_id = mine.task_force_id AND mine.marking <= seen.top "
    "ORDER BY mine.due_date ASC NULLS LAST, mine.id LIMIT %s) page "
    "JOIN taskforces_task t ON t.id = page.id "
    "JOIN taskforces_taskforce tf ON tf.id = t.task_force_id "
    "ORDER BY t.due_date ASC NULLS LAST, t.id"
)


def first_current_assignments(user: Any, first: int) -> list[RoleAssignment]:
    """The ``first`` of ``my_current_assignments``, with their role and task force."""
    if connection.vendor != "postgresql":
        return list(my_current_assignments(user)[:first])
    held = access_for(user)
    if held.agency_id is None:  # no active agency: nothing is held
        return []
    now = timezone.now()
    rows = db.fetch_all(
        _MY_ASSIGNMENTS, (sorted(held.role_ids), user.pk, held.agency_id, now, now, first)
    )
    if not rows:
        return []
    found = []
    ra_end, role_end = _ASSIGNMENT_SHAPE[0], sum(_ASSIGNMENT_SHAPE)
    assignment_of, role_of, task_force_of = (
        db.maker(RoleAssignment),
        db.maker(Role),
        db.maker(TaskForce),
    )
    for row in rows:
        assignment = assignment_of(row[:ra_end])
        assignment.role = role_of(row[ra_end:role_end])
        assignment.role.task_force = task_force_of(row[role_end:])
        found.append(assignment)
    return found


def first_task_forces(user: Any, first: int) -> list[TaskForce]:
    """The ``first`` of ``task_forces_for`` by name, with their lead agency."""
    if connection.vendor != "postgresql":
        return list(task_forces_for(user).order_by("name", "pk")[:first])
    rows = db.fetch_all(_MY_TASK_FORCES, (access_for(user).task_forces(Capability.VIEW), first))
    return db.joined(rows, TaskForce, "lead_agency", Agency)


def first_next_tasks(user: Any, first: int) -> list[Task]:
    """``my_next_tasks``: the ``first`` of the person's open tasks, soonest due first,
    with their task force."""
    if connection.vendor != "postgresql":
        return list(my_next_tasks(user, first))
    held = access_for(user)
    ids, tops = seen_task_forces(held)
    if not ids:  # sees no task force: no task to show (and no query)
        return []
    rows = db.fetch_all(_MY_NEXT_TASKS, (user.pk, sorted(held.role_ids), ids, tops, first))
    return db.joined(rows, Task, "task_force", TaskForce)


# A task force's page shows its first objectives (with their progress), its latest updates
# and its agencies: on PostgreSQL one prepared statement each, made into the instances the
# querysets give (``visible_objectives`` with its progress counts, ``visible_updates``
# with the author's agency, ``participations_of`` with the agencies), leaving out the
# related rows the page does not show (each objective's owner agency, each update's
# author). Which items the person sees is the rule's condition narrowed to this task
# force, as ``restrict(..., within=)`` narrows it: marked no higher than what they see
# there. ``tests/coordination/test_one_access_rule.py`` holds the three equal to the
# querysets and to ``can``.
_TF_OBJECTIVES = (
    f"SELECT {db.columns(Objective, 'o')}, "  # noqa: S608 - our SQL; values are parameters
    "(SELECT count(*) FROM taskforces_task t WHERE t.objective_id = o.id AND t.status <> %s), "
    "(SELECT count(*) FROM taskforces_task t WHERE t.objective_id = o.id AND t.status = %s) "
    "FROM taskforces_objective o WHERE o.task_force_id = %s AND o.marking <= %s "
    "ORDER BY o.priority DESC, o.target_date ASC NULLS LAST, o.id LIMIT %s"
)
_TF_UPDATES = (
    f"SELECT {db.columns(Update, 'u')}, {db.columns(Agency, 'a')} "  # noqa: S608 - our SQL; values are parameters
    "FROM taskforces_update u LEFT JOIN agencies_agency a ON a.id = u.author_agency_id "
    "WHERE u.task_force_id = %s AND u.marking <= %s "
    "ORDER BY u.created_at DESC, u.id DESC LIMIT %s"
)
_TF_PARTICIPATIONS = (
    f"SELECT {db.columns(Participation, 'p')}, {db.columns(Agency, 'a')} "  # noqa: S608 - our SQL; values are parameters
    "FROM taskforces_participation p JOIN agencies_agency a ON a.id = p.agency_id "
    "WHERE p.task_force_id = %s ORDER BY a.name, p.id"
)


def first_objectives(user: Any, task_force: TaskForce, first: int) -> list[Objective]:
    """The ``first`` of ``visible_objectives``, each with its progress counts."""
    if connection.vendor != "postgresql":
        return list(visible_objectives(user, task_force)[:first])
    top = access_for(user).top_marking(task_force.pk)
    if top is None:
        return []
    cancelled, done = str(Task.Status.CANCELLED), str(Task.Status.DONE)
    rows = db.fetch_all(_TF_OBJECTIVES, (cancelled, done, task_force.pk, top, first))
    make, width = db.maker(Objective), len(Objective._meta.concrete_fields)
    found = []
    for row in rows:
        objective = make(row[:width])
        objective.task_total, objective.task_done = row[width:]  # type: ignore[attr-defined]
        found.append(objective)
    return found


def first_updates(user: Any, task_force: TaskForce, first: int) -> list[Update]:
    """The ``first`` of ``visible_updates``, newest first, with their author's agency."""
    if connection.vendor != "postgresql":
        return list(visible_updates(user, task_force)[:first])
    top = access_for(user).top_marking(task_force.pk)
    if top is None:
        return []
    rows = db.fetch_all(_TF_UPDATES, (task_force.pk, top, first))
    return db.joined(rows, Update, "author_agency", Agency)


def participations_of(task_force: TaskForce) -> QuerySet[Participation]:
    """Every agency's participation in the task force (invited, taking part, declined,
    withdrawn), by agency name, with the agency."""
    return (
        Participation.objects.filter(task_force=task_force)
        .select_related("agency")
        .order_by("agency__name", "pk")
    )


def participations_list(task_force: TaskForce) -> list[Participation]:
    """``participations_of``, read for the task force's page."""
    if connection.vendor != "postgresql":
        return list(participations_of(task_force))
    rows = db.fetch_all(_TF_PARTICIPATIONS, (task_force.pk,))
    return db.joined(rows, Participation, "agency", Agency)


def current_period(
    task_force: TaskForce, now: datetime.datetime | None = None
) -> OperationalPeriod | None:
    """The task force's operational period running at ``now`` (periods never overlap)."""
    now = now or timezone.now()
    return (
        OperationalPeriod.objects.filter(task_force=task_force, starts_at__lte=now, ends_at__gt=now)
        .order_by("starts_at")
        .first()
    )


def upcoming_period(
    task_force: TaskForce, now: datetime.datetime | None = None
) -> OperationalPeriod | None:
    """The running period or, when none runs, the next one to start (one query, for the
    task force page)."""
    now = now or timezone.now()
    return (
        OperationalPeriod.objects.filter(task_force=task_force, ends_at__gt=now)
        .order_by("starts_at")
        .first()
    )


def timeline_of(user: Any, task_force: TaskForce) -> QuerySet[TimelineEntry]:
    """The task force's timeline as the person may see it, newest first (its page, its
    exports and the API)."""
    return (
        TimelineEntry.objects.restrict(user, "view")
        .filter(task_force=task_force)
        .select_related("actor")
        .order_by("-occurred_at", "-id")
    )
