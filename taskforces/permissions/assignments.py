"""Role assignments, and the access review of them by the holder's agency administrators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from agencies.models import Agency, Membership
from agencies.selectors import membership_of
from coordination.permissions import (
    Explanation,
    InList,
    Policy,
    Step,
    TableCondition,
    one_of,
    one_of_values,
    register,
)

from ..models import Capability, RoleAssignment
from ._common import task_force_ids_with
from .explanations import _task_force_chain

# an agency administrator reviews their agency's people's assignments unless the agency is
# offboarded or rejected
_ADMIN = Membership.Role.ADMIN.value
_NOT_REVIEWING = (Agency.Status.OFFBOARDED.value, Agency.Status.REJECTED.value)
_NOT_REVIEWING_SQL = ", ".join(f"'{status}'" for status in _NOT_REVIEWING)

# the agencies whose people's role assignments a person (the parameter) reviews
_REVIEWED_SQL = (
    "SELECT sm.agency_id FROM agencies_membership sm "  # noqa: S608 - our table names and constants; values are parameters
    "JOIN agencies_agency sa ON sa.id = sm.agency_id "
    f"WHERE sm.user_id = %s AND sm.is_active AND sm.role = '{_ADMIN}' "
    f"AND sa.status NOT IN ({_NOT_REVIEWING_SQL})"
)


def reviewed_agency_ids(user: Any) -> RawSQL:
    """Subquery: the agencies whose people's role assignments the person reviews (access
    review): those they are an active agency administrator of, unless offboarded or
    rejected. Portal administrators review none: recertifying is the agency's own word
    that its person still needs the role. (The same SQL is part of ``seen_condition``.)"""
    return RawSQL(_REVIEWED_SQL, (user.pk,))  # noqa: S611  # nosec B611 - our SQL; the value is a parameter


def seen_condition(alias: str, *, task_forces: int | None = None) -> str:
    """Who sees an assignment (table ``alias``), as SQL with three parameters: the ids of
    the task forces the person sees (``one_of``: on PostgreSQL one array; elsewhere
    ``task_forces`` values), the person's id, and the person's id again. Seen are the assignments to roles
    of those task forces, the person's own, and those of the people of the agencies they
    review (``reviewed_agency_ids``). On PostgreSQL three index conditions ORed, each set
    an InitPlan read first (a plain IN subquery is no index condition, and the OR would
    scan every assignment)."""

    postgresql = task_forces is None

    def among(column: str, subquery: str) -> str:
        return f"{column} = ANY(ARRAY({subquery}))" if postgresql else f"{column} IN ({subquery})"

    roles = f"SELECT sr.id FROM taskforces_role sr WHERE sr.task_force_id {one_of(task_forces)}"  # noqa: S608 - our table names; values are parameters
    return (
        f"({among(f'{alias}.role_id', roles)} OR {alias}.person_id = %s "
        f"OR {among(f'{alias}.agency_id', _REVIEWED_SQL)})"
    )


class SeenAssignments(TableCondition):
    """``seen_condition`` as a filter on the queryset's assignments."""

    def __init__(self, user: Any) -> None:
        super().__init__()
        self.person_id = int(user.pk)
        self.task_force_ids = [int(i) for i in task_force_ids_with(user, Capability.VIEW)]

    def condition(self, alias: str, *, postgresql: bool) -> tuple[str, Sequence[Any]]:
        count, ids = one_of_values(self.task_force_ids, postgresql=postgresql)
        return seen_condition(alias, task_forces=count), (*ids, self.person_id, self.person_id)


def _reviews(user: Any, agency: Agency) -> bool:
    """``reviewed_agency_ids`` for one agency, in Python (for explanations)."""
    membership = membership_of(user)
    return (
        membership is not None
        and membership.role == Membership.Role.ADMIN
        and membership.agency_id == agency.pk
        and agency.status not in (Agency.Status.OFFBOARDED, Agency.Status.REJECTED)
    )


@register(RoleAssignment)
class RoleAssignmentPolicy(Policy[RoleAssignment]):
    """Assignments are seen by whoever sees the task force, by the holder and by the
    agency administrators of the holder's agency (who review them); changed (end date) by a
    liaison officer of the holder's agency who may assign roles there; ended by that
    liaison or by those agency administrators; recertified only by those agency
    administrators, never for their own assignment.

    The agency administrators' actions do not depend on the task force's state: an
    assignment in a closed task force still gives sight of it, and its agency must be able
    to take that away (or confirm it)."""

    actions = ("view", "change", "end", "recertify")

    def restrict(
        self, queryset: QuerySet[RoleAssignment], user: Any, action: str
    ) -> QuerySet[RoleAssignment]:
        if action == "view":
            return queryset.filter(SeenAssignments(user))
        reviewed = Q(agency_id__in=reviewed_agency_ids(user))
        if action == "recertify":
            return queryset.filter(reviewed).exclude(person_id=user.pk)
        liaison_of = Membership.objects.filter(
            user_id=user.pk, is_active=True, role=Membership.Role.LIAISON
        ).values("agency_id")
        by_liaison = Q(agency_id__in=liaison_of) & Q(
            InList(
                "role__task_force_id",
                task_force_ids_with(user, Capability.ASSIGN_ROLES, writable=True),
            )
        )
        if action == "change":
            return queryset.filter(by_liaison)
        return queryset.filter(by_liaison | reviewed)  # end

    def explain(self, user: Any, action: str, obj: RoleAssignment) -> Explanation:
        reviews = _reviews(user, obj.agency)
        if action == "view":
            if obj.person_id == user.pk:
                return Explanation(True, action, [Step("This is your own assignment.", True)])
            if reviews:
                return Explanation(True, action, [self._admin_step(obj)])
            steps, granted = _task_force_chain(user, obj.role.task_force, Capability.VIEW)
            return Explanation(granted, action, steps)
        if action == "recertify":
            return self._explain_recertify(user, obj, reviews)
        if action == "end" and reviews:
            return Explanation(True, action, [self._admin_step(obj)])
        return self._explain_by_liaison(user, action, obj)

    @staticmethod
    def _admin_step(obj: RoleAssignment) -> Step:
        return Step(
            f"You are an agency administrator of {obj.agency}, the holder's agency, and "
            "review its people's role assignments.",
            True,
        )

    def _explain_recertify(self, user: Any, obj: RoleAssignment, reviews: bool) -> Explanation:
        if not reviews:
            portal = (
                " Portal administrators do not recertify: it is the agency's own word."
                if getattr(user, "is_portal_admin", False)
                else ""
            )
            text = (
                f"Only an agency administrator of {obj.agency}, the holder's agency, may "
                f"recertify this assignment.{portal}"
            )
            membership = membership_of(user)
            if (
                membership is not None
                and membership.agency_id == obj.agency_id
                and membership.role == Membership.Role.ADMIN
            ):
                text = f"{obj.agency} is {obj.agency.get_status_display().lower()}."
            return Explanation(False, "recertify", [Step(text, False)])
        steps = [self._admin_step(obj)]
        if obj.person_id == user.pk:
            steps.append(
                Step(
                    "This is your own assignment: another agency administrator of "
                    f"{obj.agency} must recertify it.",
                    False,
                )
            )
            return Explanation(False, "recertify", steps)
        return Explanation(True, "recertify", steps)

    def _explain_by_liaison(self, user: Any, action: str, obj: RoleAssignment) -> Explanation:
        membership = membership_of(user)
        is_liaison = (
            membership is not None
            and membership.role == Membership.Role.LIAISON
            and membership.agency_id == obj.agency_id
        )
        who = (
            "a liaison officer or agency administrator" if action == "end" else "a liaison officer"
        )
        verb = "end" if action == "end" else "end or change"
        first = Step(
            f"You are a liaison officer of {obj.agency}, the holder's agency."
            if is_liaison
            else f"Only {who} of {obj.agency}, the holder's agency, may {verb} this assignment.",
            is_liaison,
        )
        if not is_liaison:
            return Explanation(False, action, [first])
        steps, granted = _task_force_chain(user, obj.role.task_force, Capability.ASSIGN_ROLES)
        if granted and obj.role.task_force.is_closed:
            steps.append(Step(f"{obj.role.task_force} is closed.", False))
            granted = False
        return Explanation(granted, action, [first, *steps])
