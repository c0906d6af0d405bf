"""Participations: seen by the task force and the invited agency, answered by its liaisons."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from agencies.models import Agency, Membership
from agencies.selectors import membership_of
from coordination.permissions import Explanation, InList, Policy, Step, register

from ..access import access_for
from ..models import Capability, Participation, TaskForce
from .explanations import _task_force_chain


@register(Participation)
class ParticipationPolicy(Policy[Participation]):
    """A participation is seen by the task force's members and by the invited agency's
    people; ``respond`` (accept, decline, withdraw) belongs to that agency's liaisons."""

    actions = ("view", "respond")

    def restrict(
        self, queryset: QuerySet[Participation], user: Any, action: str
    ) -> QuerySet[Participation]:
        if action == "view":
            held = access_for(user)
            # two index conditions, ORed as bitmaps; the agency as a value, so the
            # planner knows how many participations it has
            mine = Q(agency_id=held.member_of) if held.member_of else Q(pk__in=[])
            return queryset.filter(
                Q(InList("task_force_id", held.task_forces(Capability.VIEW))) | mine
            )
        # a liaison officer of an active agency answers for it: their membership as this
        # request read it (``membership_of``), the agency then a value, not a subquery
        membership = membership_of(user)
        if (
            membership is None
            or membership.role != Membership.Role.LIAISON
            or membership.agency.status != Agency.Status.ACTIVE
        ):
            return queryset.none()
        return queryset.filter(agency_id=membership.agency_id).exclude(
            task_force__status=TaskForce.Status.CLOSED
        )

    def explain(self, user: Any, action: str, obj: Participation) -> Explanation:
        membership = membership_of(user)
        own = membership is not None and membership.agency_id == obj.agency_id
        if action == "view":
            if own:
                return Explanation(
                    True, action, [Step("This is your agency's participation.", True)]
                )
            steps, granted = _task_force_chain(user, obj.task_force, Capability.VIEW)
            return Explanation(granted, action, steps)
        is_liaison = own and membership is not None and membership.role == Membership.Role.LIAISON
        steps = [
            Step(
                f"You are a liaison officer of {obj.agency}."
                if is_liaison
                else f"Only {obj.agency}'s liaison officers answer for it.",
                is_liaison,
            )
        ]
        if (
            is_liaison
            and membership is not None
            and membership.agency.status != Agency.Status.ACTIVE
        ):
            steps.append(Step(f"{obj.agency} is not active.", False))
            return Explanation(False, action, steps)
        if is_liaison and obj.task_force.is_closed:
            steps.append(Step(f"{obj.task_force} is closed.", False))
            return Explanation(False, action, steps)
        return Explanation(is_liaison, action, steps)
