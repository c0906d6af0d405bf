"""The API's busiest lists answered by one prepared statement each, and serialised lean.

A list of objectives, tasks, updates, task forces or role assignments asked with nothing
but a page (``?page``, ``?page_size``) — what integrations poll — is answered here
instead of through the ORM: one statement, prepared once per database connection
(``coordination.db``), finds the page's rows in the view's default order, the list's
count (a window over the same rows) and everything each row shows (the task force's
name, the owner agency, the contributing agencies, progress...). The rows become the
same dictionaries the view's serializer would make: every value is formatted by that
serializer's own field (dates, times, choices), and the nested references keep its
fields and their order. ``tests/api/test_lean_lists.py`` proves the answers are
byte for byte what the general path answers, for every persona, list and page.

Who sees what is not written again here. Items (objectives, tasks, updates) and task
forces are filtered by the person's access (``taskforces.access.compute``, the one access
rule), turned into two arrays — each task force they see and the highest marking they see
there, as ``Access.visible_by_ceiling`` groups them — that the statement joins; role
assignments by the policy's own condition (``permissions.assignments.seen_condition``,
which its ``restrict`` filters by too) with the task forces the person sees.
``tests/coordination/test_one_access_rule.py`` checks every persona's lean lists against
``can``.

Anything else in the query string (a filter, an ordering, a search) takes the general
path, as does a page past the last one (which answers the general path's 400).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.db import connection
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from coordination import db
from coordination.api.conditional import etag_for, matches, not_modified
from coordination.api.pagination import PageNumberPagination
from coordination.models import User
from coordination.permissions import is_signed_in

from ..access import Access, access_for, seen_task_forces
from ..models import (
    Capability,
    Task,
    assignment_is_current,
    recertification_due,
)
from ..permissions.assignments import seen_condition

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView

# the query parameters a lean answer takes; any other sends the request the general way
PAGING = frozenset({"page", "page_size"})

_day = serializers.DateField()

# The field that writes the times of the answer being built. DRF's ``DateTimeField`` looks
# the current time zone up for every value it writes (a context-local read, the larger
# part of writing a time); ``times_in_current_zone`` gives it the zone, read once, for one
# answer's rows: the same zone, so the same text.
# Outside such an answer (one row, as ``one_update``), the plain field.
_moment: contextvars.ContextVar[serializers.DateTimeField | None] = contextvars.ContextVar(
    "lean_moment", default=None
)
_moment_looking_up = serializers.DateTimeField()


@contextlib.contextmanager
def times_in_current_zone() -> Iterator[None]:
    """While rows are built: times written in the zone current now (the reader's)."""
    token = _moment.set(serializers.DateTimeField(default_timezone=timezone.get_current_timezone()))
    try:
        yield
    finally:
        _moment.reset(token)


def moment(value: datetime.datetime | None) -> str | None:
    """A time as the API's serializers write it (``DateTimeField``)."""
    if value is None:
        return None
    return (_moment.get() or _moment_looking_up).to_representation(value)


def day(value: datetime.date | None) -> str | None:
    """A date as the API's serializers write it (``DateField``)."""
    return None if value is None else _day.to_representation(value)


def person(pk: int | None, first: str, last: str, email: str) -> dict[str, Any] | None:
    """``PersonRefSerializer``: the id and the person's name as ``str(user)`` gives it."""
    if pk is None:
        return None
    return {"id": pk, "name": User.name_of(first, last, email)}


def agency(pk: int | None, name: str, acronym: str) -> dict[str, Any] | None:
    """``AgencyRefSerializer``."""
    return None if pk is None else {"id": pk, "name": name, "acronym": acronym}


def _refs(found: list[list[Any]] | None, keys: Sequence[str]) -> list[dict[str, Any]]:
    return [dict(zip(keys, values, strict=True)) for values in found or ()]


# the visible items of one table ({table}), each in a task force the person sees and marked
# no higher than what they see there
_ITEMS = (
    "FROM unnest(%s::bigint[], %s::int[]) AS seen(task_force_id, top) "
    "JOIN {table} x ON x.task_force_id = seen.task_force_id AND x.marking <= seen.top"
)

# an objective's tasks (``taskforces.selectors.with_progress``): those live, those done
_TASK_COUNT = "(SELECT count(*) FROM taskforces_task t WHERE t.objective_id = o.id AND t.status {op} '{status}')"

# what each list shows, for the rows of one page (``page``: id and the list's count)
OBJECTIVES = (
    "WITH page AS (SELECT x.id, count(*) OVER () AS total "  # noqa: S608 - our SQL, no input
    + _ITEMS.format(table="taskforces_objective")
    # (``+ 0``: sorted after the join, not by walking the whole index in task force order)
    + " ORDER BY x.task_force_id + 0, x.priority DESC, x.target_date, x.id LIMIT %s OFFSET %s) "
    "SELECT o.id, o.task_force_id, tf.name, o.title, o.description, "
    "ow.id, ow.name, ow.acronym, "
    "(SELECT json_agg(json_build_array(a.id, a.name, a.acronym) ORDER BY a.name) "
    " FROM taskforces_objective_contributing_agencies ca "
    " JOIN agencies_agency a ON a.id = ca.agency_id WHERE ca.objective_id = o.id), "
    "o.status, o.priority, o.target_date, o.marking, "
    + _TASK_COUNT.format(op="<>", status=Task.Status.CANCELLED.value)
    + ", "
    + _TASK_COUNT.format(op="=", status=Task.Status.DONE.value)
    + ", "
    "o.created_at, o.updated_at, page.total "
    "FROM page JOIN taskforces_objective o ON o.id = page.id "
    "JOIN taskforces_taskforce tf ON tf.id = o.task_force_id "
    "JOIN agencies_agency ow ON ow.id = o.owner_agency_id "
    "ORDER BY o.task_force_id, o.priority DESC, o.target_date, o.id"
)


def objective(row: Sequence[Any]) -> dict[str, Any]:
    (pk, tf, tf_name, title, description, owner, owner_name, owner_acronym, contributing,
     status, priority, target, marking, total, done, created, updated, _) = row  # fmt: skip
    return {
        "id": pk,
        "task_force": {"id": tf, "name": tf_name},
        "title": title,
        "description": description,
        "owner_agency": agency(owner, owner_name, owner_acronym),
        "contributing_agencies": _refs(contributing, ("id", "name", "acronym")),
        "status": status,
        "priority": priority,
        "target_date": day(target),
        "marking": marking,
        # ``Objective.progress``: whole percent of the live tasks done, rounded down
        "progress": 100 * done // total if total else 0,
        "created_at": moment(created),
        "updated_at": moment(updated),
    }


TASKS = (
    "WITH page AS (SELECT x.id, count(*) OVER () AS total "
    + _ITEMS.format(table="taskforces_task")
    + " ORDER BY x.due_date, x.id LIMIT %s OFFSET %s) "
    "SELECT t.id, t.task_force_id, tf.name, t.objective_id, t.title, t.description, "
    "p.id, p.first_name, p.last_name, p.email, r.id, r.name, r.task_force_id, "
    "t.due_date, t.status, t.created_at, t.updated_at, page.total "
    "FROM page JOIN taskforces_task t ON t.id = page.id "
    "JOIN taskforces_taskforce tf ON tf.id = t.task_force_id "
    "LEFT JOIN coordination_user p ON p.id = t.assignee_id "
    "LEFT JOIN taskforces_role r ON r.id = t.assigned_role_id "
    "ORDER BY t.due_date, t.id"
)


def task(row: Sequence[Any]) -> dict[str, Any]:
    (pk, tf, tf_name, objective_id, title, description, assignee, first, last, email,
     role, role_name, role_tf, due, status, created, updated, _) = row  # fmt: skip
    return {
        "id": pk,
        "task_force": {"id": tf, "name": tf_name},
        "objective": objective_id,
        "title": title,
        "description": description,
        "assignee": person(assignee, first, last, email),
        "assigned_role": (
            None if role is None else {"id": role, "name": role_name, "task_force": role_tf}
        ),
        "due_date": day(due),
        "status": status,
        "created_at": moment(created),
        "updated_at": moment(updated),
    }


UPDATE_ROWS = (
    "SELECT u.id, u.task_force_id, tf.name, p.id, p.first_name, p.last_name, p.email, "
    "a.id, a.name, a.acronym, u.kind, u.title, u.body, u.marking, "
    "u.requires_acknowledgement, "
    # roles of one task force, in the order of its organisation chart (Role's ordering)
    "(SELECT json_agg(json_build_array(r.id, r.name, r.task_force_id) "
    " ORDER BY r.order, r.name) FROM taskforces_update_ack_roles ar "
    " JOIN taskforces_role r ON r.id = ar.role_id WHERE ar.update_id = u.id), "
    "(SELECT json_agg(json_build_array(g.id, g.name, g.acronym) ORDER BY g.name) "
    " FROM taskforces_update_ack_agencies ag "
    " JOIN agencies_agency g ON g.id = ag.agency_id WHERE ag.update_id = u.id), "
    "EXISTS (SELECT 1 FROM taskforces_acknowledgement k "
    " WHERE k.update_id = u.id AND k.person_id = %s), "
    "u.created_at, page.total "
    "FROM page JOIN taskforces_update u ON u.id = page.id "
    "JOIN taskforces_taskforce tf ON tf.id = u.task_force_id "
    "LEFT JOIN coordination_user p ON p.id = u.author_id "
    "LEFT JOIN agencies_agency a ON a.id = u.author_agency_id "
    "ORDER BY u.created_at DESC, u.id DESC"
)
UPDATES = (
    "WITH page AS (SELECT x.id, count(*) OVER () AS total "
    + _ITEMS.format(table="taskforces_update")
    + " ORDER BY x.created_at DESC, x.id DESC LIMIT %s OFFSET %s) "
    + UPDATE_ROWS
)
# one update, as the list shows it (the answer to posting one)
ONE_UPDATE = "WITH page AS (SELECT %s::bigint AS id, 1 AS total) " + UPDATE_ROWS


def update(row: Sequence[Any]) -> dict[str, Any]:
    (pk, tf, tf_name, author, first, last, email, author_agency, agency_name,
     agency_acronym, kind, title, body, marking, requires, roles, agencies, mine,
     created, _) = row  # fmt: skip
    return {
        "id": pk,
        "task_force": {"id": tf, "name": tf_name},
        "author": person(author, first, last, email),
        "author_agency": agency(author_agency, agency_name, agency_acronym),
        "kind": kind,
        "title": title,
        "body": body,
        "marking": marking,
        "requires_acknowledgement": requires,
        "ack_roles": _refs(roles, ("id", "name", "task_force")),
        "ack_agencies": _refs(agencies, ("id", "name", "acronym")),
        "acknowledged_by_me": mine,
        "created_at": moment(created),
    }


TASK_FORCES = (
    "WITH page AS (SELECT x.id, count(*) OVER () AS total "
    "FROM taskforces_taskforce x WHERE x.id = ANY(%s::bigint[]) "
    "ORDER BY x.created_at DESC, x.id DESC LIMIT %s OFFSET %s) "
    "SELECT tf.id, tf.name, tf.mandate, a.id, a.name, a.acronym, tf.status, tf.marking, "
    "tf.created_at, tf.status_changed_at, page.total "
    "FROM page JOIN taskforces_taskforce tf ON tf.id = page.id "
    "JOIN agencies_agency a ON a.id = tf.lead_agency_id "
    "ORDER BY tf.created_at DESC, tf.id DESC"
)


def task_force(access: Access) -> Callable[[Sequence[Any]], dict[str, Any]]:
    def build(row: Sequence[Any]) -> dict[str, Any]:
        (pk, name, mandate, lead, lead_name, lead_acronym, status, marking, created,
         changed, _) = row  # fmt: skip
        # the mandate is seen as an item of the task force's marking would be
        # (``taskforces.selectors.sees_mandate``)
        sees = access.sees(pk, marking)
        return {
            "id": pk,
            "name": name,
            "mandate": mandate if sees else None,
            "mandate_withheld": not sees,
            "lead_agency": agency(lead, lead_name, lead_acronym),
            "status": status,
            "marking": marking,
            "created_at": moment(created),
            "status_changed_at": moment(changed),
        }

    return build


# the page of assignments the person sees (the policy's own condition, ``seen_condition``)
ROLE_ASSIGNMENTS = (
    "WITH page (id, total) AS (SELECT ra.id, COUNT(*) OVER () "  # noqa: S608 - our table names; values are parameters
    f"FROM taskforces_roleassignment ra WHERE {seen_condition('ra')} "
    "ORDER BY ra.starts_at DESC, ra.id DESC LIMIT %s OFFSET %s) "
    "SELECT ra.id, r.id, r.name, r.task_force_id, p.id, p.first_name, p.last_name, p.email, "
    "a.id, a.name, a.acronym, b.id, b.first_name, b.last_name, b.email, "
    "ra.starts_at, ra.ends_at, ra.ended_at, ra.end_reason, ra.recertified_at, page.total "
    "FROM page JOIN taskforces_roleassignment ra ON ra.id = page.id "
    "JOIN taskforces_role r ON r.id = ra.role_id "
    "JOIN coordination_user p ON p.id = ra.person_id "
    "JOIN agencies_agency a ON a.id = ra.agency_id "
    "LEFT JOIN coordination_user b ON b.id = ra.assigned_by_id "
    "ORDER BY ra.starts_at DESC, ra.id DESC"
)


def role_assignment(row: Sequence[Any]) -> dict[str, Any]:
    (pk, role, role_name, role_tf, holder, first, last, email, agency_id, agency_name,
     agency_acronym, by, by_first, by_last, by_email, starts, ends, ended, reason,
     recertified, _) = row  # fmt: skip
    # the model's own rules for what is current and when it falls due
    return {
        "id": pk,
        "role": {"id": role, "name": role_name, "task_force": role_tf},
        "person": person(holder, first, last, email),
        "agency": agency(agency_id, agency_name, agency_acronym),
        "assigned_by": person(by, by_first, by_last, by_email),
        "starts_at": moment(starts),
        "ends_at": moment(ends),
        "ended_at": moment(ended),
        "end_reason": reason,
        "is_current": assignment_is_current(starts, ends, ended, timezone.now()),
        "recertified_at": moment(recertified),
        "recertification_due_at": moment(recertification_due(starts, recertified)),
    }


def one_update(pk: int, user: Any) -> dict[str, Any] | None:
    """One update as the list shows it to ``user`` (whether they see it is the caller's
    to have checked), or ``None`` where the statement is not PostgreSQL's."""
    if connection.vendor != "postgresql":
        return None
    rows = db.fetch_all(ONE_UPDATE, (pk, user.pk))
    return update(rows[0]) if rows else None


# --- answering ---------------------------------------------------------------------------------


class _Counted(Sequence[Any]):
    """A page's rows standing for the whole list, for Django's ``Paginator``: it counts the
    list by ``count()`` and slices out the page, which is these rows."""

    def __init__(self, rows: list[Any], total: int) -> None:
        self.rows, self.total = rows, total

    def count(self, value: Any = None) -> int:
        return self.total

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, index: Any) -> Any:
        return self.rows


@dataclass(frozen=True)
class Statement:
    """One lean list's page: its SQL (``%s`` placeholders) and parameters, and how a row
    becomes what the list shows. The SQL is the same text for everyone (the person and the
    page are parameters): prepared once per connection."""

    sql: str
    params: Sequence[Any]
    build: Callable[[Sequence[Any]], dict[str, Any]]


def statement_for(kind: str, user: Any, access: Access, size: int, offset: int) -> Statement:
    """The lean statement of one page of the list ``kind``, for this person."""
    if kind in ("objectives", "tasks", "updates"):
        ids, tops = seen_task_forces(access)
        sql = {"objectives": OBJECTIVES, "tasks": TASKS, "updates": UPDATES}[kind]
        build = {"objectives": objective, "tasks": task, "updates": update}[kind]
        mine = (user.pk,) if kind == "updates" else ()
        return Statement(sql, (ids, tops, size, offset, *mine), build)
    if kind == "task-forces":
        ids = access.task_forces(Capability.VIEW)
        return Statement(TASK_FORCES, (ids, size, offset), task_force(access))
    if kind == "role-assignments":
        ids, person = access.task_forces(Capability.VIEW), user.pk
        if not is_signed_in(user):  # no one: as the policy answers (nothing)
            ids, person = [], None
        return Statement(ROLE_ASSIGNMENTS, (ids, person, person, size, offset), role_assignment)
    raise LookupError(f"No lean list {kind!r}.")


def lean_answer(view: GenericAPIView, request: Request) -> Response | None:
    """The view's list answered by its lean statement, or ``None`` when the request asks
    for more than a page (or for a page past the last one): the general path answers."""
    kind = getattr(view, "lean_list", None)
    if connection.vendor != "postgresql" or not kind:
        return None
    if not PAGING.issuperset(request.query_params):
        return None
    paginator = view.paginator
    if not isinstance(paginator, PageNumberPagination):
        return None
    paginator.check_params(request)  # a malformed page or size: 400, as the general path
    user = request.user
    access = access_for(user)
    content = kind != "role-assignments"
    if content:  # task-force content: the ETag is known before any row is read
        etag = etag_for(request, access.fingerprint)
        if matches(request, etag):
            return not_modified(etag)
    size = paginator.get_page_size(request)
    number = int(request.query_params.get("page") or 1)
    statement = statement_for(kind, user, access, size, (number - 1) * size)
    rows = db.fetch_all(statement.sql, statement.params)
    if not rows and number > 1:
        return None  # past the last page: the general path says how many there are
    total = int(rows[0][-1]) if rows else 0
    with times_in_current_zone():
        data = [statement.build(row) for row in rows]
    if not content:
        # assignments become current or lapse with time alone: their ETag is the rows as
        # read, with whether each is current now
        etag = etag_for(request, repr((total, rows, [d["is_current"] for d in data])))
        if matches(request, etag):
            return not_modified(etag)
    paginator.page = Paginator(_Counted(data, total), size).page(number)
    paginator.request = request
    response = paginator.get_paginated_response(data)
    response["ETag"] = etag
    return response
