"""The objectives board's cards: what the board shows of each objective it lists.

The board lists the objectives of one task force a person may see (``board_queryset``,
filtered by the board's own filters), a page at a time, each with its owner, contributing
agencies, progress and visible tasks. The queryset is the definition. On PostgreSQL the
board reads the same rows with prepared statements instead (``BoardObjectives``: one to
count them, one for a page with its owners, contributors and progress, one for the page's
tasks): the ORM planned, built and prefetched about 40 ms of a board of twenty cards, its
statements take about 2. Each card is a ``Card``, made of the columns the board shows,
not a model instance: the board changes nothing through them.
``tests/coordination/test_one_access_rule.py`` holds the statements to the queryset, for
every person, filter and page, and to ``can``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, overload

from django.db import connection
from django.db.models import Prefetch, QuerySet

from agencies.models import Agency
from coordination import db
from coordination.models import User
from coordination.permissions import policy_for
from coordination.permissions.markings import Marking

from .access import access_for
from .models import Objective, Task, TaskForce
from .permissions.items import ObjectivePolicy
from .selectors import visible_objectives


def board_queryset(user: Any, task_force: TaskForce) -> QuerySet[Objective]:
    """The objectives of the task force the person sees, in the board's order, with their
    progress, owner, contributors and visible tasks: the board's definition."""
    return visible_objectives(user, task_force).prefetch_related(
        "contributing_agencies",
        Prefetch(
            "tasks",
            queryset=Task.objects.restrict(user, "view", within=task_force).select_related(
                "assignee", "assigned_role"
            ),
            to_attr="visible_tasks",
        ),
    )


def owner_agencies(task_force: TaskForce) -> QuerySet[Agency]:
    """The agencies the board's owner filter offers: the task force's active agencies (not
    every agency in the portal: thousands of options made the page grow with the
    federation), by name. A choice is checked against this queryset."""
    return Agency.objects.filter(
        status=Agency.Status.ACTIVE, participations__task_force=task_force
    ).order_by("name")


# From the task force's participations to their agencies (one each): the status is written
# in, not a parameter, for the planner to know nearly every agency is active (as a
# parameter, its generic plan read all of them to keep the task force's thirty)
_OWNERS = (
    "SELECT a.id, a.name FROM taskforces_participation p "  # noqa: S608 - our SQL; values are parameters
    "JOIN agencies_agency a ON a.id = p.agency_id "
    f"WHERE p.task_force_id = %s AND a.status = '{Agency.Status.ACTIVE.value}' ORDER BY a.name"
)


def owner_choices(task_force: TaskForce) -> list[tuple[int, str]]:
    """``owner_agencies`` as the filter's options: each agency's id and name."""
    if connection.vendor != "postgresql":
        return [(agency.pk, str(agency)) for agency in owner_agencies(task_force)]
    return [(pk, name) for pk, name in db.fetch_all(_OWNERS, (task_force.pk,))]


def may_change_objectives(user: Any, task_force: TaskForce) -> bool:
    """Whether the person may change each objective they see in the task force: the
    objectives' change condition names task forces alone (``change_task_forces``)."""
    policy = policy_for(Objective)
    if not isinstance(policy, ObjectivePolicy):  # registered in .permissions.items
        raise TypeError(f"Objectives' policy is {policy!r}")
    return task_force.pk in policy.change_task_forces(access_for(user))


@dataclass(slots=True)
class TaskLine:
    """A visible task under its card: who does it is the person's name (``User.name_of``),
    else its role's name, else nothing."""

    pk: int
    title: str
    status: str
    status_label: str
    holder: str
    due_date: datetime.date | None
    link: str = ""

    @classmethod
    def of(cls, task: Task) -> TaskLine:
        holder = str(task.assignee) if task.assignee else ""
        if not holder and task.assigned_role:
            holder = task.assigned_role.name
        return cls(
            task.pk, task.title, task.status, task.get_status_display(), holder, task.due_date
        )


_OBJECTIVE_LABELS = {value: str(label) for value, label in Objective.Status.choices}
_PRIORITY_LABELS = {value: str(label) for value, label in Objective.Priority.choices}
_MARKING_LABELS = {value: str(label) for value, label in Marking.choices}
_TASK_LABELS = {value: str(label) for value, label in Task.Status.choices}


def _agency_label(agency: Agency) -> str:
    return agency.acronym or agency.name


@dataclass(slots=True)
class Card:
    """An objective as its card shows it: its own columns with their labels, its owner and
    contributing agencies by acronym (their name when they have none; contributors by
    name), its progress counts and its visible tasks. The page adds its links, moves and
    whether the person may make them."""

    pk: int
    title: str
    status: str
    priority: int
    target_date: datetime.date | None
    marking: int
    owner: str
    contributors: str
    task_total: int
    task_done: int
    tasks: list[TaskLine] = field(default_factory=list)
    link: str = ""
    move_link: str = ""
    moves: Any = ()
    may_change: bool = False

    @property
    def progress(self) -> int:
        """Whole percent of its live tasks done, rounded down (``Objective.progress``)."""
        return 100 * self.task_done // self.task_total if self.task_total else 0

    @property
    def status_label(self) -> str:
        return _OBJECTIVE_LABELS[self.status]

    @property
    def priority_label(self) -> str:
        return _PRIORITY_LABELS[self.priority]

    @property
    def marking_label(self) -> str:
        return _MARKING_LABELS[self.marking]

    @classmethod
    def of(cls, objective: Objective) -> Card:
        """The card of an objective read by ``board_queryset``."""
        return cls(
            objective.pk,
            objective.title,
            objective.status,
            objective.priority,
            objective.target_date,
            objective.marking,
            _agency_label(objective.owner_agency),
            ", ".join(_agency_label(a) for a in objective.contributing_agencies.all()),
            objective.task_total,  # type: ignore[attr-defined]
            objective.task_done,  # type: ignore[attr-defined]
            [TaskLine.of(task) for task in objective.visible_tasks],  # type: ignore[attr-defined]
        )


@dataclass(frozen=True, slots=True)
class BoardFilters:
    """The board's filters, as its filter form cleaned them (empty: not filtered by)."""

    q: str = ""
    status: str = ""
    priority: int | None = None
    owner_agency_id: int | None = None

    @classmethod
    def of(cls, cleaned: dict[str, Any]) -> BoardFilters:
        owner = cleaned.get("owner_agency")
        priority = cleaned.get("priority") or None
        return cls(
            cleaned.get("q") or "",
            cleaned.get("status") or "",
            None if priority is None else int(priority),
            owner.pk if owner is not None else None,
        )


# Which objectives: the rule's condition narrowed to the task force (marked no higher than
# what the person sees there: ``Access.top_marking``), then the board's filters, each
# ignored when its parameter is null. A title "contains" as Django's ``icontains`` does on
# PostgreSQL (``UPPER ... LIKE UPPER``, the value escaped by ``prep_for_like_query``).
_WHERE = (
    "o.task_force_id = %s AND o.marking <= %s "
    "AND (%s::varchar IS NULL OR o.status = %s::varchar) "
    "AND (%s::smallint IS NULL OR o.priority = %s::smallint) "
    "AND (%s::bigint IS NULL OR o.owner_agency_id = %s::bigint) "
    "AND (%s::text IS NULL OR UPPER(o.title::text) LIKE UPPER(%s::text)) "
)
_COUNT = f"SELECT count(*) FROM taskforces_objective o WHERE {_WHERE}"  # noqa: S608 - our SQL; values are parameters
_CONTRIBUTORS = Objective.contributing_agencies.through._meta.db_table
# Owners and contributors are looked up for the page's rows alone (scalar subqueries, run
# after the LIMIT): a join let the planner hash every agency of the federation.
_PAGE = (
    "SELECT o.id, o.title, o.status, o.priority, o.target_date, o.marking, "  # noqa: S608 - our SQL; values are parameters
    "(SELECT COALESCE(NULLIF(a.acronym, ''), a.name) FROM agencies_agency a "
    "WHERE a.id = o.owner_agency_id), "
    "(SELECT string_agg(COALESCE(NULLIF(a.acronym, ''), a.name), ', ' ORDER BY a.name) "
    f"FROM {_CONTRIBUTORS} c JOIN agencies_agency a ON a.id = c.agency_id "
    "WHERE c.objective_id = o.id), "
    "(SELECT count(*) FROM taskforces_task t WHERE t.objective_id = o.id AND t.status <> %s), "
    "(SELECT count(*) FROM taskforces_task t WHERE t.objective_id = o.id AND t.status = %s) "
    f"FROM taskforces_objective o WHERE {_WHERE}"
    "ORDER BY o.priority DESC, o.target_date ASC NULLS LAST, o.id LIMIT %s OFFSET %s"
)
# The page's tasks the person sees (a task carries its objective's marking), in the
# order of ``Task.Meta.ordering``, with the name of whoever does each.
_TASKS = (
    "SELECT t.id, t.objective_id, t.title, t.status, t.due_date, "
    "u.first_name, u.last_name, u.email, r.name "
    "FROM taskforces_task t "
    "LEFT JOIN coordination_user u ON u.id = t.assignee_id "
    "LEFT JOIN taskforces_role r ON r.id = t.assigned_role_id "
    "WHERE t.objective_id = ANY(%s) AND t.task_force_id = %s AND t.marking <= %s "
    "ORDER BY t.due_date, t.id"
)


class BoardObjectives:
    """The cards of a board as ``Paginator`` pages them: ``count()`` and a slice. On
    PostgreSQL each is a prepared statement with the filters as parameters; elsewhere they
    are ``defined`` made into cards (never built on PostgreSQL: building it cost more than
    the statements)."""

    def __init__(
        self,
        user: Any,
        task_force: TaskForce,
        filters: BoardFilters,
        narrow: Callable[[QuerySet[Objective]], QuerySet[Objective]] | None = None,
    ) -> None:
        self.user, self.task_force, self.narrow = user, task_force, narrow
        self.statements = connection.vendor == "postgresql"
        self.top = access_for(user).top_marking(task_force.pk)
        like = f"%{connection.ops.prep_for_like_query(filters.q)}%" if filters.q else None
        status, priority, owner = (
            filters.status or None,
            filters.priority,
            filters.owner_agency_id,
        )
        self.where = (
            task_force.pk,
            self.top,
            *(status, status, priority, priority, owner, owner, like, like),
        )

    @cached_property
    def defined(self) -> QuerySet[Objective]:
        """``board_queryset`` narrowed by the filters (the filter set's ``filter_queryset``)."""
        objectives = board_queryset(self.user, self.task_force)
        return self.narrow(objectives) if self.narrow else objectives

    def count(self) -> int:
        if not self.statements:
            return self.defined.count()
        if self.top is None:
            return 0
        return int(db.fetch_all(_COUNT, self.where)[0][0])

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Card]:
        """Every card, on one page (exports and tests read them whole)."""
        return iter(self[0 : self.count()])

    @overload
    def __getitem__(self, index: int) -> Card: ...

    @overload
    def __getitem__(self, index: slice) -> list[Card]: ...

    def __getitem__(self, index: int | slice) -> Card | list[Card]:
        if isinstance(index, slice):
            return self.window(index.start or 0, index.stop)
        found = self.window(index, index + 1)
        if not found:
            raise IndexError(index)
        return found[0]

    def window(self, start: int, stop: int) -> list[Card]:
        """The cards from ``start`` to ``stop`` (a page)."""
        if not self.statements:
            return [Card.of(objective) for objective in self.defined[start:stop]]
        if self.top is None:
            return []
        cancelled, done = str(Task.Status.CANCELLED), str(Task.Status.DONE)
        rows = db.fetch_all(_PAGE, (cancelled, done, *self.where, stop - start, start))
        cards = [
            Card(pk, title, status, priority, due, marking, owner, contributors or "", total, n)
            for pk, title, status, priority, due, marking, owner, contributors, total, n in rows
        ]
        if cards:
            by_id = {card.pk: card for card in cards}
            ids = list(by_id)
            for pk, objective_id, title, status, due, first, last, email, role in db.fetch_all(
                _TASKS, (ids, self.task_force.pk, self.top)
            ):
                holder = User.name_of(first, last, email) if email is not None else role or ""
                line = TaskLine(pk, title, status, _TASK_LABELS[status], holder, due)
                by_id[objective_id].tasks.append(line)
        return cards
