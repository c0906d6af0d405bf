"""The task force, and what is seen with it: its roles (the organisation chart) and its
operational periods."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from coordination.permissions import Explanation, InList, Policy, Step, register

from ..models import Capability, OperationalPeriod, Role, TaskForce
from ._common import TASK_FORCE_ACTIONS, _holds, task_force_ids_with
from .explanations import _task_force_chain


@register(TaskForce)
class TaskForcePolicy(Policy[TaskForce]):
    """A task force is seen and worked on only through current role assignments."""

    actions = tuple(TASK_FORCE_ACTIONS)

    def restrict(
        self, queryset: QuerySet[TaskForce], user: Any, action: str
    ) -> QuerySet[TaskForce]:
        return queryset.filter(InList("pk", self.ids(user, action)))

    @staticmethod
    def ids(user: Any, action: str) -> list[int]:
        """The ids of the task forces the person may ``action``: ``restrict``'s, for a
        statement that filters by them itself."""
        capability = TASK_FORCE_ACTIONS[action]
        writable = capability not in (Capability.VIEW, Capability.VIEW_RESTRICTED)
        return task_force_ids_with(user, capability, writable=writable)

    def decides(self, user: Any, action: str, obj: TaskForce) -> bool | None:
        return _holds(user, obj.pk, TASK_FORCE_ACTIONS[action])

    def explain(self, user: Any, action: str, obj: TaskForce) -> Explanation:
        capability = Capability(TASK_FORCE_ACTIONS[action])
        steps, granted = _task_force_chain(user, obj, capability)
        writable = capability not in (Capability.VIEW, Capability.VIEW_RESTRICTED)
        if granted and writable and obj.is_closed:
            steps.append(Step(f"{obj} is closed: nothing in it can be changed.", False))
            granted = False
        return Explanation(granted, action, steps)


@register(Role)
class RolePolicy(Policy[Role]):
    """Roles (the organisation chart) are seen by whoever sees their task force."""

    actions = ("view",)

    def restrict(self, queryset: QuerySet[Role], user: Any, action: str) -> QuerySet[Role]:
        return queryset.filter(InList("task_force_id", task_force_ids_with(user, Capability.VIEW)))

    def decides(self, user: Any, action: str, obj: Role) -> bool | None:
        return _holds(user, obj.task_force_id, Capability.VIEW)

    def explain(self, user: Any, action: str, obj: Role) -> Explanation:
        steps, granted = _task_force_chain(user, obj.task_force, Capability.VIEW)
        return Explanation(granted, action, steps)


@register(OperationalPeriod)
class OperationalPeriodPolicy(Policy[OperationalPeriod]):
    """Operational periods are seen by whoever sees their task force and changed by its
    planners (the manage-objectives capability) while it is not closed."""

    actions = ("view", "change")

    def restrict(
        self, queryset: QuerySet[OperationalPeriod], user: Any, action: str
    ) -> QuerySet[OperationalPeriod]:
        if action == "view":
            return queryset.filter(
                InList("task_force_id", task_force_ids_with(user, Capability.VIEW))
            )
        return queryset.filter(
            InList(
                "task_force_id",
                task_force_ids_with(user, Capability.MANAGE_OBJECTIVES, writable=True),
            )
        )

    def decides(self, user: Any, action: str, obj: OperationalPeriod) -> bool | None:
        capability = Capability.VIEW if action == "view" else Capability.MANAGE_OBJECTIVES
        return _holds(user, obj.task_force_id, capability)

    def explain(self, user: Any, action: str, obj: OperationalPeriod) -> Explanation:
        if action == "view":
            steps, granted = _task_force_chain(user, obj.task_force, Capability.VIEW)
            return Explanation(granted, action, steps)
        return TaskForcePolicy().explain(user, "manage_objectives", obj.task_force)
