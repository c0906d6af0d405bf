"""The access rule inside task forces, defined once.

A person holds a capability in a task force when all of this holds:

1. they are a **member**: their account is active and they have an active membership in
   an agency that is itself active (``members``);
2. they **hold a role** there: an assignment, for that agency, that has started and has
   neither ended nor expired, to a role of a task force whose participation by that agency
   is accepted (``holding_ids``);
3. the role's group is **granted** the capability on that task force (guardian's object
   permission rows, ``granted``).

And they see an item inside it (an objective, a task, an update) when they hold "view"
there and the item's marking is no higher than their agency's **ceiling** in that task
force (``ceilings``): TLP:RED when the agency leads it, otherwise the most generous
agreement in force between the agency and the lead agency, for all matters or for that
task force, otherwise TLP:CLEAR; and TLP:RED items also need "view restricted".

Everything that decides who may see or do what inside task forces is derived from these
four functions, read from the database when it is needed:

* a person's :class:`Access` (``compute``: which task forces, which capabilities, which
  ceiling), which ``restrict`` turns into filters;
* an item's audience (``holders`` and ``audience`` in ``taskforces.permissions``): the same
  functions anchored on a task force instead of a person;
* the explanation of "why can (or can't) I see this?", which reads the same rows.

``tests/coordination/test_one_access_rule.py`` proves the three agree for every persona and
every kind of object.

Nothing is kept between requests. Within one web request the person's access is
remembered after its first use (``coordination.permissions.request_memory``), so a page that filters
ten lists reads it once — until the request itself writes to a table the rule reads
(``ACCESS_TABLES``).
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from agencies.models import Agency
from coordination import db
from coordination.permissions import InList, request_memory
from coordination.permissions.markings import Marking

from .models import (
    Capability,
    Participation,
    TaskForce,
    TaskForceGroupObjectPermission,
)

NOTE = "taskforces.access"


# --- the rule -------------------------------------------------------------------------------
#
# Written once, in SQL, so that every way of asking — for one person, for one task force,
# for one person in one task force — runs the same conditions. The statements read the
# assignment as ``ra`` and its role as ``r``; table names and the status literals come
# from the models below, never from input.

ACCEPTED = Participation.Status.ACCEPTED.value
ACTIVE = Agency.Status.ACTIVE.value


def current_conditions() -> str:
    """An assignment ``ra`` confers its role at the moment given twice as a parameter:
    started, neither ended nor expired (``RoleAssignmentQuerySet.current`` in SQL)."""
    return "ra.ended_at IS NULL AND ra.starts_at <= %s AND (ra.ends_at IS NULL OR ra.ends_at > %s)"


def _holding_conditions() -> str:
    """Condition 2 on ``ra`` (and its role ``r``): current at the moment given twice as a
    parameter, and its agency's participation in the role's task force accepted."""
    return (
        f"{current_conditions()} "  # noqa: S608 - our table names and constants; values are parameters
        "AND EXISTS (SELECT 1 FROM taskforces_participation pa "
        "WHERE pa.task_force_id = r.task_force_id AND pa.agency_id = ra.agency_id "
        f"AND pa.status = '{ACCEPTED}')"
    )


def _member_condition() -> str:
    """Condition 1 on ``ra``: its person an active account, actively a member of the
    assignment's agency, which is active."""
    return (
        "EXISTS (SELECT 1 FROM agencies_membership m "  # noqa: S608 - our table names and constants; values are parameters
        "JOIN agencies_agency a ON a.id = m.agency_id "
        "JOIN coordination_user u ON u.id = m.user_id "
        "WHERE m.user_id = ra.person_id AND m.agency_id = ra.agency_id AND m.is_active "
        f"AND u.is_active AND a.status = '{ACTIVE}')"
    )


def holding_ids(
    at: datetime.datetime, *, where: str, params: Sequence[Any], select: str = "ra.id"
) -> RawSQL:
    """Ids of the assignments that confer their role at ``at`` (conditions 1 and 2), among
    those ``where`` (SQL on ``ra`` and ``r``) selects — or another column of them
    (``select``): a subquery for ``pk__in``."""
    sql = (
        f"SELECT {select} FROM taskforces_roleassignment ra "  # noqa: S608 - callers' SQL, no input
        "JOIN taskforces_role r ON r.id = ra.role_id "
        f"WHERE {_holding_conditions()} AND {_member_condition()} AND {where}"
    )
    return RawSQL(sql, (at, at, *params))  # noqa: S611  # nosec B611 - the SQL is ours; values are parameters


def _coverage_conditions(agency: str, task_force: str, lead: str) -> str:
    """The ceiling's rule on an agreement's coverage row ``cv``: it covers ``agency``'s
    sight of ``task_force``, led by ``lead`` (SQL expressions), on the day given twice as a
    parameter: the agreement is between the two agencies, for all matters or for that
    task force, and in force that day. (Among the rows that cover, ``most_generous``
    decides.)"""
    return (
        f"cv.agency_id = {agency} AND cv.partner_id = {lead} "
        f"AND (cv.task_force_id IS NULL OR cv.task_force_id = {task_force}) "
        "AND cv.valid_from <= %s AND (cv.valid_until IS NULL OR cv.valid_until >= %s)"
    )


VIEW = Capability.VIEW.value
# plain values of the enumerations the loops below compare with, read once: a person with
# hundreds of roles goes through them for every row of their access
_VIEW_RESTRICTED = Capability.VIEW_RESTRICTED.value
_RED = int(Marking.RED)
_AMBER_STRICT = int(Marking.AMBER_STRICT)
_CLEAR = int(Marking.CLEAR)
_CLOSED = TaskForce.Status.CLOSED.value

# the person's agency on a holding's row of "view", else NULL (see below)
_WHEN_VIEW = f"(CASE WHEN h.codename = '{VIEW}' THEN m.agency_id END)"

# a person's membership (condition 1) and, when it counts (the agency and the account
# active), their holdings in it (condition 2) with each task force's lead, status and
# content version, and the capabilities their roles' groups are granted there (condition
# 3; none: the role is held, but grants nothing); on the row of "view" in a task force led
# by another agency, each agreement coverage row that covers the person's agency there
# (the ceiling) -- in one statement: a row per holding, capability and covering row, or
# one row with no holding. The coverage index is searched for the "view" rows alone: on
# any other row the agency it is searched with is NULL, which finds nothing without
# reading the index (a person with 300 roles has about as many other rows as "view" rows)
_ACCESS_COLUMNS = (
    "m.agency_id, a.status, u.is_active, "
    "h.role_id, h.task_force_id, h.lead_agency_id, h.status, h.content_version, h.codename, "
    "cv.max_marking, cv.agreement_id"
)
ACCESS_WIDTH = _ACCESS_COLUMNS.count(",") + 1
_ACCESS_TEMPLATE = (
    f"SELECT {_ACCESS_COLUMNS} "  # noqa: S608 - our table names and constants; values are parameters
    "FROM agencies_membership m "
    "JOIN agencies_agency a ON a.id = m.agency_id "
    "JOIN coordination_user u ON u.id = m.user_id "
    "LEFT JOIN (SELECT ra.person_id, ra.agency_id, ra.role_id, r.task_force_id, "
    "tf.lead_agency_id, tf.status, tf.content_version, p.codename "
    "FROM taskforces_roleassignment ra "
    "JOIN taskforces_role r ON r.id = ra.role_id "
    "JOIN taskforces_taskforce tf ON tf.id = r.task_force_id "
    "LEFT JOIN taskforces_taskforcegroupobjectpermission g "
    "ON g.group_id = r.group_id AND g.content_object_id = r.task_force_id "
    "LEFT JOIN auth_permission p ON p.id = g.permission_id "
    f"WHERE {_holding_conditions()}) h "
    f"ON h.person_id = m.user_id AND h.agency_id = m.agency_id AND a.status = '{ACTIVE}' "
    "AND u.is_active "
    "LEFT JOIN agencies_agreementcoverage cv "
    f"ON {_coverage_conditions(_WHEN_VIEW, 'h.task_force_id', 'h.lead_agency_id')} "
    "AND h.lead_agency_id <> m.agency_id "
    "WHERE m.user_id = {person} AND m.is_active"
)


def access_sql(person: str) -> str:
    """The statement above for the person ``person`` names: ``%s`` (a parameter after
    the four of ``parameters``) or a subquery (see ``taskforces.api.authentication``).
    Its rows, ``ACCESS_WIDTH`` columns each, go to ``from_rows``."""
    return _ACCESS_TEMPLATE.replace("{person}", person)


def parameters(now: datetime.datetime) -> tuple[Any, ...]:
    """The statement's parameters for the moment ``now``, in the order it takes them."""
    day = timezone.localdate(now)
    return (now, now, day, day)


_ACCESS_SQL = access_sql("%s")


# the coverage rows that cover each of a list of (agency, task force, lead) (``ceilings``)
_COVERAGE_SQL = (
    "WITH x (agency_id, task_force_id, lead_id) AS (VALUES {pairs}) "  # noqa: S608 - our table names; values are parameters
    "SELECT x.agency_id, x.task_force_id, cv.max_marking, cv.agreement_id "
    "FROM x JOIN agencies_agreementcoverage cv "
    f"ON {_coverage_conditions('x.agency_id', 'x.task_force_id', 'x.lead_id')}"
)


# Every table the rule reads (found in its SQL), and the tables the coverage rows are kept
# from by triggers: a request forgets the access it remembered when it writes to one of
# them (``coordination.permissions.request_memory``), and only then.
ACCESS_TABLES = frozenset(
    re.findall(
        r"\b((?:agencies|taskforces|coordination|auth)_[a-z_]+)\b",
        " ".join(
            (
                _holding_conditions(),
                _member_condition(),
                _ACCESS_SQL,
                _COVERAGE_SQL,
            )
        ),
    )
) | {"agencies_sharingagreement", "agencies_sharingagreement_parties"}


def granted(group_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Condition 3: the capabilities each role group is granted (group id → codenames),
    from guardian's rows: a capability listed on a role but not granted does not count."""
    found: dict[int, set[str]] = defaultdict(set)
    rows = TaskForceGroupObjectPermission.objects.filter(
        InList("group_id", sorted(set(group_ids)))
    ).values_list("group_id", "permission__codename")
    for group_id, codename in rows:
        found[group_id].add(codename)
    return {group: frozenset(codenames) for group, codenames in found.items()}


@dataclass(frozen=True)
class Ceiling:
    """The highest marking an agency sees in a task force, and where that comes from: the
    agency leads it, or an agreement (its id), or nothing (TLP:CLEAR)."""

    marking: int
    leads: bool = False
    agreement_id: int | None = None


def most_generous(agency_id: int, lead_id: int, covering: Iterable[tuple[int, int]]) -> Ceiling:
    """The ceiling of an agency in a task force led by ``lead_id``, from the (marking,
    agreement id) of the coverage rows that cover it there: TLP:RED when it leads, else the
    most generous; between equals the oldest agreement, so the answer is stable; none:
    TLP:CLEAR."""
    if agency_id == lead_id:
        return Ceiling(_RED, leads=True)
    best = max(covering, key=_generosity, default=None)
    if best is None:
        return Ceiling(_CLEAR)
    return Ceiling(int(best[0]), agreement_id=int(best[1]))


def _generosity(covering: tuple[int, int]) -> tuple[int, int]:
    """How ``most_generous`` ranks a coverage row (marking, agreement id): the higher
    marking, then the older agreement."""
    return (covering[0], -covering[1])


def ceilings(
    pairs: Iterable[tuple[int, int, int]], day: datetime.date
) -> dict[tuple[int, int], Ceiling]:
    """The ceiling of each (agency, task force) for ``pairs`` of (agency id, task force id,
    the task force's lead agency id): one query over the agreements' coverage rows, with
    the same conditions as a person's access reads them."""
    pairs = list(dict.fromkeys((int(a), int(t), int(lead)) for a, t, lead in pairs))
    covering: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    others = [(a, t, lead) for a, t, lead in pairs if a != lead]
    if others:
        rows = db.fetch_all(
            _COVERAGE_SQL.format(pairs=", ".join(["(%s, %s, %s)"] * len(others))),
            (*(value for pair in others for value in pair), day, day),
            prepare=False,  # as many pairs as asked
        )
        for agency_id, task_force_id, marking, agreement_id in rows:
            covering[(agency_id, task_force_id)].append((marking, agreement_id))
    return {(a, t): most_generous(a, lead, covering[(a, t)]) for a, t, lead in pairs}


def seen_marking(ceiling: int, capabilities: frozenset[str]) -> int:
    """The highest marking a holder of ``capabilities`` sees under ``ceiling``: TLP:RED
    only with the view-restricted capability."""
    if ceiling >= _RED and _VIEW_RESTRICTED not in capabilities:
        return _AMBER_STRICT
    return int(ceiling)


# --- one person's access ----------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What one person may reach inside task forces at one moment."""

    # the agency of the person's active membership, whatever its status
    member_of: int | None = None
    # the same, only while the agency (and the account) is active: what any capability needs
    agency_id: int | None = None
    # task force id → the capabilities the person holds there now
    capabilities: Mapping[int, frozenset[str]] = field(default_factory=dict)
    # task force id → the highest marking the person's agency may see there
    ceilings: Mapping[int, int] = field(default_factory=dict)
    closed: frozenset[int] = frozenset()
    # the roles the person holds now (tasks assigned to a role, acknowledgements asked of one)
    role_ids: frozenset[int] = frozenset()
    # task force id → its content version (``TaskForce.content_version``) as read
    versions: Mapping[int, int] = field(default_factory=dict)

    def task_forces(self, capability: str, *, writable: bool = False) -> list[int]:
        """Ids of the task forces where the person has ``capability`` (and which are not
        closed, when ``writable``)."""
        return self._with[(capability, writable)]

    @cached_property
    def _with(self) -> dict[tuple[str, bool], list[int]]:
        found: dict[tuple[str, bool], list[int]] = defaultdict(list)
        closed = self.closed
        for task_force_id, held in sorted(self.capabilities.items()):
            writable = task_force_id not in closed
            for capability in held:
                found[(capability, False)].append(task_force_id)
                if writable:
                    found[(capability, True)].append(task_force_id)
        return found

    @cached_property
    def visible_by_ceiling(self) -> dict[int, list[int]]:
        """Task forces the person sees, grouped by the highest marking they see there."""
        # ``top_marking`` of each, written out: called once for each, it took twice as
        # long for a person with 300 roles (169 µs against 80, on every request)
        groups: dict[int, list[int]] = defaultdict(list)
        ceilings = self.ceilings
        for task_force_id, held in sorted(self.capabilities.items()):
            if VIEW in held:
                ceiling = ceilings.get(task_force_id, _CLEAR)
                groups[seen_marking(ceiling, held)].append(task_force_id)
        return dict(sorted(groups.items()))

    @cached_property
    def fingerprint(self) -> str:
        """Everything above in one string: two readings of a person's access answer the
        same lists and pages exactly when their fingerprints are equal (what the API's
        ETags of task-force content are made of)."""
        ceilings, closed, versions = self.ceilings, self.closed, self.versions
        return repr(
            (
                self.member_of,
                self.agency_id,
                sorted(self.role_ids),
                [
                    (
                        task_force_id,
                        sorted(held),
                        ceilings.get(task_force_id),
                        task_force_id in closed,
                        versions.get(task_force_id),
                    )
                    for task_force_id, held in sorted(self.capabilities.items())
                ],
            )
        )

    def top_marking(self, task_force_id: int) -> int | None:
        """The highest marking the person sees in this task force (None: they do not see
        it)."""
        held = self.capabilities.get(task_force_id, frozenset())
        if Capability.VIEW not in held:
            return None
        return seen_marking(self.ceilings.get(task_force_id, Marking.CLEAR), held)

    def sees(self, task_force_id: int, marking: int) -> bool:
        """Does the person see an item of this marking in this task force?"""
        top = self.top_marking(task_force_id)
        return top is not None and marking <= top


NO_ACCESS = Access()


def compute(user: Any, now: datetime.datetime | None = None) -> Access:
    """The person's access at ``now`` (default: this moment), from the rule above: their
    membership with their holdings there, their task forces, grants and, for task forces
    led by other agencies, the agreements' coverage deciding the ceilings (one statement,
    prepared once per database connection: ``coordination.db``)."""
    now = now or timezone.now()
    return from_rows(db.fetch_all(_ACCESS_SQL, (*parameters(now), user.pk)))


def from_rows(rows: Sequence[Sequence[Any]]) -> Access:
    """The access the rows of ``access_sql`` give (no rows: the person is no member)."""
    if not rows:
        return NO_ACCESS
    agency_id, agency_status, account_active = rows[0][:3]
    if agency_status != Agency.Status.ACTIVE or not account_active:
        return Access(member_of=agency_id)  # they belong to it, but hold nothing
    capabilities: dict[int, set[str]] = {}
    leads: dict[int, int] = {}
    versions: dict[int, int] = {}
    covering: dict[int, list[tuple[int, int]]] = defaultdict(list)
    closed = set()
    role_ids = set()
    for row in rows:
        role_id = row[3]
        if role_id is None:  # a member holding no role
            continue
        role_ids.add(role_id)
        task_force_id, codename, marking = row[4], row[8], row[9]
        held = capabilities.get(task_force_id)
        if held is None:  # the first row of this task force
            held = capabilities[task_force_id] = set()
            leads[task_force_id] = row[5]
            versions[task_force_id] = row[7]
            if row[6] == _CLOSED:
                closed.add(task_force_id)
        if codename is not None:
            held.add(codename)
        if marking is not None:
            covering[task_force_id].append((marking, row[10]))
    return Access(
        member_of=agency_id,
        agency_id=agency_id,
        capabilities={tf: frozenset(held) for tf, held in capabilities.items()},
        ceilings={
            tf: most_generous(agency_id, leads[tf], covering[tf]).marking
            for tf, held in capabilities.items()
            if VIEW in held
        },
        closed=frozenset(closed),
        role_ids=frozenset(role_ids),
        versions=versions,
    )


def access_for(user: Any, now: datetime.datetime | None = None) -> Access:
    """The person's access now, remembered for the rest of this request (until it
    writes); with an explicit ``now``, computed for that moment."""
    if now is not None:
        return compute(user, now)
    note = request_memory.remembered(NOTE, ACCESS_TABLES)
    if note is None:
        return compute(user)
    key = int(user.pk)
    if key not in note:
        note[key] = compute(user)
    return note[key]


def remember(user: Any, access: Access) -> None:
    """Have ``access_for`` answer ``access`` for this person for the rest of this request
    (until it writes): their access read now, in a statement that also read something
    else (``taskforces.api.authentication``)."""
    note = request_memory.remembered(NOTE, ACCESS_TABLES)
    if note is not None:
        note[int(user.pk)] = access


def seen_task_forces(access: Access) -> tuple[list[int], list[int]]:
    """The task forces the person sees and, for each, the highest marking they see there
    (``Access.visible_by_ceiling``, flattened): the two arrays the lean statements join
    (the API's lists, the updates awaiting acknowledgement)."""
    ids: list[int] = []
    tops: list[int] = []
    for top, task_forces in access.visible_by_ceiling.items():
        ids += task_forces
        tops += [top] * len(task_forces)
    return ids, tops


def visible_items(
    access: Access, task_force_field: str, marking_field: str, *, only: int | None = None
) -> Q:
    """The condition an objective, task or update meets when the person may see it: in a
    task force they see, marked no higher than what they see there. With ``only`` (a task
    force id), the same condition for the items of that task force alone: one task force
    and one ceiling, instead of every task force the person sees."""
    condition = Q(pk__in=[])  # nothing, when they see no task force
    for ceiling, ids in access.visible_by_ceiling.items():
        if only is not None:
            if only not in ids:
                continue
            ids = [only]
        condition |= Q(InList(task_force_field, ids)) & Q(**{f"{marking_field}__lte": ceiling})
    return condition
