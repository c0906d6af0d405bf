"""Objectives, tasks and updates: their task force's permissions plus their marking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from agencies.models import SharingAgreement
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
from coordination.permissions.markings import Marking

from ..access import Access, access_for, ceilings, visible_items
from ..models import Capability, Objective, Task, TaskForce, Update
from ._common import ITEM_CHANGE_CAPABILITY
from .explanations import _task_force_chain


class ItemPolicy(Policy[Any]):
    """Objectives, tasks and updates: their task force's permissions plus their marking."""

    actions: tuple[str, ...] = ("view", "change")
    task_force_path = "task_force__"
    marking_field = "marking"
    # Whether ``visible`` is this class's, deciding from the person's access alone (the
    # task force and the marking): only then does ``restrict_within`` write the narrow
    # condition itself. A subclass with conditions of its own (mutual aid's addressed
    # agencies, the timeline's entries) keeps the default and is narrowed after its rule.
    seen_by_access_alone = False

    def restrict(self, queryset: QuerySet[Any], user: Any, action: str) -> QuerySet[Any]:
        held = access_for(user)
        visible = self.visible(queryset, held)
        if action == "view":
            return visible
        return visible.filter(self.change_condition(user, held))

    def restrict_within(
        self, queryset: QuerySet[Any], user: Any, action: str, within: Any
    ) -> QuerySet[Any]:
        """The items of one task force (``within``) the person may see or change: the
        conditions of ``restrict`` written for that task force alone (its ceiling, whether
        its content may be changed), from the same access."""
        if not isinstance(within, TaskForce):
            raise LookupError(f"Items are restricted within a task force, not {within!r}.")
        if not self.seen_by_access_alone or action not in ("view", "change"):
            # the general rule (a policy with conditions of its own, acknowledging), narrowed
            return self.restrict(queryset, user, action).filter(
                **{f"{self.task_force_path}id": within.pk}
            )
        held = access_for(user)
        visible = queryset.filter(
            visible_items(held, f"{self.task_force_path}id", self.marking_field, only=within.pk)
        )
        if action == "view":
            return visible
        return visible.filter(self.change_condition(user, held))

    def decides(self, user: Any, action: str, obj: Any) -> bool | None:
        """Seeing an item is decided by the person's access alone (``Access.sees``: the
        same task forces and ceilings ``visible`` filters by) and the item's task force
        and marking; changing it is asked of the database."""
        if action != "view":
            return None
        return access_for(user).sees(obj.task_force_id, self.marking_of(obj))

    def visible(self, queryset: QuerySet[Any], held: Access) -> QuerySet[Any]:
        """Items of task forces the person sees, marked no higher than what they see there
        (their agency's ceiling; TLP:RED also needs the view-restricted capability): one
        condition per ceiling — "in these task forces and marked at most AMBER, or in
        those and marked at most RED..." — over the task force index."""
        return queryset.filter(visible_items(held, f"{self.task_force_path}id", self.marking_field))

    def change_condition(self, user: Any, held: Access) -> Q:
        return Q(InList("task_force_id", self.change_task_forces(held)))

    def change_task_forces(self, held: Access) -> list[int]:
        """The task forces whose items (those the person sees) the person may change: open
        ones where they hold the capability to manage them. For objectives and updates it
        is the whole condition, so a page of one task force asks it once, not per item."""
        return held.task_forces(ITEM_CHANGE_CAPABILITY[self.model], writable=True)

    model: type[Model] = Model

    def marking_of(self, obj: Any) -> int:
        return int(obj.marking)

    def explain(self, user: Any, action: str, obj: Any) -> Explanation:
        task_force = obj.task_force
        steps, granted = _task_force_chain(user, task_force, Capability.VIEW)
        if not granted:
            return Explanation(False, action, steps)
        marking = Marking(self.marking_of(obj))
        noun = self.model._meta.verbose_name
        ceiling, source = _ceiling_for(user, task_force)
        if marking > ceiling:
            steps.append(
                Step(
                    f"This {noun} is marked {marking.label}; {source} covers only up to {Marking(ceiling).label}.",
                    False,
                )
            )
            return Explanation(False, action, steps)
        steps.append(
            Step(
                f"This {noun} is marked {marking.label}; {source} covers up to {Marking(ceiling).label}.",
                True,
            )
        )
        if marking == Marking.RED:
            red_steps, red = _task_force_chain(user, task_force, Capability.VIEW_RESTRICTED)
            steps.append(
                red_steps[-1]
                if red
                else Step(
                    f"{Marking.RED.label} items need the capability “{Capability.VIEW_RESTRICTED.label}”, which none of your roles includes.",
                    False,
                )
            )
            if not red:
                return Explanation(False, action, steps)
        if action == "view":
            return Explanation(True, action, steps)
        return self.explain_change(user, obj, steps)

    def explain_change(self, user: Any, obj: Any, steps: list[Step]) -> Explanation:
        capability = Capability(ITEM_CHANGE_CAPABILITY[self.model])
        cap_steps, granted = _task_force_chain(user, obj.task_force, capability)
        steps.append(cap_steps[-1])
        if granted and obj.task_force.is_closed:
            steps.append(Step(f"{obj.task_force} is closed: nothing in it can be changed.", False))
            granted = False
        return Explanation(granted, "change", steps)


def _ceiling_for(user: Any, task_force: TaskForce) -> tuple[int, str]:
    """The person's agency's ceiling in the task force (``access.ceilings``), with its
    source in words."""
    membership = membership_of(user)
    if membership is None:
        return Marking.CLEAR, "no agreement"
    key = (membership.agency_id, task_force.pk)
    ceiling = ceilings([(*key, task_force.lead_agency_id)], timezone.localdate())[key]
    if ceiling.leads:
        return ceiling.marking, f"your agency, {membership.agency}, leads {task_force} and"
    if ceiling.agreement_id is None:
        return (
            ceiling.marking,
            f"with no sharing agreement in force between {membership.agency} and the lead agency, access",
        )
    title = (
        SharingAgreement.objects.filter(pk=ceiling.agreement_id)
        .values_list("title", flat=True)
        .first()
    )
    return ceiling.marking, f"the sharing agreement “{title}” with the lead agency"


@register(Objective)
class ObjectivePolicy(ItemPolicy):
    model = Objective
    seen_by_access_alone = True


_ACK_ROLES = Update.ack_roles.through._meta.db_table
_ACK_AGENCIES = Update.ack_agencies.through._meta.db_table


def asked_condition(alias: str, *, roles: int | None = None) -> str:
    """Whom an update (table ``alias``) asks to acknowledge it, as SQL with two parameters:
    the ids of the roles the person holds now (``one_of``: on PostgreSQL one array;
    elsewhere ``roles`` values) and the id of their agency. Asked is everyone when it names no role
    and no agency, else the holders of the roles it names and the people of the agencies
    it names. Each condition probes the update's own rows (an index on the update), so
    its cost does not grow with every update of the federation. Written once: the policy
    filters by it (``AskedToAcknowledge``) and so does the statement of the updates
    awaiting a person's acknowledgement (``taskforces.selectors``)."""
    held = one_of(roles)
    return (
        f"((NOT EXISTS (SELECT 1 FROM {_ACK_ROLES} ar WHERE ar.update_id = {alias}.id) "  # noqa: S608 - our table names; values are parameters
        f"AND NOT EXISTS (SELECT 1 FROM {_ACK_AGENCIES} ag WHERE ag.update_id = {alias}.id)) "
        f"OR EXISTS (SELECT 1 FROM {_ACK_ROLES} ar WHERE ar.update_id = {alias}.id "
        f"AND ar.role_id {held}) "
        f"OR EXISTS (SELECT 1 FROM {_ACK_AGENCIES} ag WHERE ag.update_id = {alias}.id "
        "AND ag.agency_id = %s))"
    )


class AskedToAcknowledge(TableCondition):
    """``asked_condition`` as a filter on the queryset's updates, for the person whose
    access is given (their roles and their agency as it reads them)."""

    def __init__(self, held: Access) -> None:
        super().__init__()
        self.role_ids = sorted(int(pk) for pk in held.role_ids)
        self.agency_id = held.agency_id

    def condition(self, alias: str, *, postgresql: bool) -> tuple[str, Sequence[Any]]:
        count, roles = one_of_values(self.role_ids, postgresql=postgresql)
        return asked_condition(alias, roles=count), (*roles, self.agency_id)


@register(Update)
class UpdatePolicy(ItemPolicy):
    """Updates are changed (corrected) by those who may edit the task force; acknowledged
    by the people they ask, when those people can see them."""

    model = Update
    actions = ("view", "change", "acknowledge")
    seen_by_access_alone = True

    def restrict(self, queryset: QuerySet[Any], user: Any, action: str) -> QuerySet[Any]:
        if action != "acknowledge":
            return super().restrict(queryset, user, action)
        held = access_for(user)
        return (
            self.visible(queryset, held)
            .filter(requires_acknowledgement=True)
            .filter(AskedToAcknowledge(held))
        )

    def explain(self, user: Any, action: str, obj: Any) -> Explanation:
        if action != "acknowledge":
            return super().explain(user, action, obj)
        seen = super().explain(user, "view", obj)
        if not seen:
            return Explanation(False, action, seen.steps)
        steps = list(seen.steps)
        if not obj.requires_acknowledgement:
            steps.append(Step("This update does not ask for acknowledgement.", False))
            return Explanation(False, action, steps)
        roles = set(obj.ack_roles.values_list("pk", flat=True))
        agencies = set(obj.ack_agencies.values_list("pk", flat=True))
        if not roles and not agencies:
            steps.append(Step("Everyone who can see this update is asked to acknowledge it.", True))
            return Explanation(True, action, steps)
        mine = access_for(user).role_ids
        membership = membership_of(user)
        if roles & mine or (membership and membership.agency_id in agencies):
            steps.append(Step("It asks your role or your agency to acknowledge it.", True))
            return Explanation(True, action, steps)
        steps.append(Step("It asks other roles or agencies to acknowledge it, not you.", False))
        return Explanation(False, action, steps)


@register(Task)
class TaskPolicy(ItemPolicy):
    """Tasks carry their objective's marking. Besides task managers, the person a task is
    assigned to (or a current holder of its role) may update it."""

    model = Task
    seen_by_access_alone = True

    def change_condition(self, user: Any, held: Access) -> Q:
        # (applied to visible tasks only, whose task forces are all in ``held``)
        open_tf = ~Q(InList("task_force_id", sorted(held.closed)))
        return super().change_condition(user, held) | (
            open_tf
            & (Q(assignee_id=user.pk) | Q(InList("assigned_role_id", sorted(held.role_ids))))
        )

    def explain_change(self, user: Any, obj: Any, steps: list[Step]) -> Explanation:
        result = super().explain_change(user, obj, list(steps))
        if result.allowed or obj.task_force.is_closed:
            return result
        if obj.assignee_id == user.pk:
            steps.append(Step("The task is assigned to you.", True))
            return Explanation(True, "change", steps)
        if obj.assigned_role_id in access_for(user).role_ids:
            steps.append(Step(f"The task is assigned to your role {obj.assigned_role.name}.", True))
            return Explanation(True, "change", steps)
        return result
