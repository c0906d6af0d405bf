"""How roles become access inside task forces.

A role's capabilities are guardian object permissions granted to the role's group on its
task force (``TaskForceGroupObjectPermission``: one row per role and capability). A person
has a capability on a task force when they hold a *current* assignment to a role whose
group has it, their membership in the assignment's agency is active, that agency is
active and has accepted (or leads) the task force. All of it is checked in the query, so
ending an assignment, withdrawing or suspending an agency takes access away at once.

Objects inside a task force follow its permissions and their own marking: above what the
viewer's agency's agreement with the lead agency covers, or TLP:RED without the
view-restricted capability, an item is invisible.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import (
    Exists,
    Model,
    OuterRef,
    Q,
    QuerySet,
)
from django.utils import timezone

from agencies.models import Agency, Membership, SharingAgreement
from agencies.selectors import AgencyOf, membership_of
from coordination.markings import Marking
from coordination.permissions import Explanation, InList, InSubquery, Policy, Step, register

from ..access import (
    Access,
    access_for,
    ceilings,
    granted,
    holding_ids,
    holdings,
    visible_items,
)
from ..models import (
    Capability,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    Update,
)

# What each item action needs on the item's task force.
TASK_FORCE_ACTIONS: dict[str, str] = {
    "view": Capability.VIEW,
    "change": Capability.CHANGE,
    "manage_participation": Capability.MANAGE_PARTICIPATION,
    "assign_roles": Capability.ASSIGN_ROLES,
    "manage_objectives": Capability.MANAGE_OBJECTIVES,
    "manage_tasks": Capability.MANAGE_TASKS,
    "post_updates": Capability.POST_UPDATES,
    "view_restricted": Capability.VIEW_RESTRICTED,
}
ITEM_CHANGE_CAPABILITY: dict[type, str] = {
    Objective: Capability.MANAGE_OBJECTIVES,
    Task: Capability.MANAGE_TASKS,
    Update: Capability.CHANGE,
}


def current_assignments(
    user: Any, now: datetime.datetime | None = None
) -> QuerySet[RoleAssignment]:
    """The person's assignments that confer their role right now (at ``now``), for listing
    them: those behind their access, which ``taskforces.access.compute`` finds with every
    condition (validity window, active account, membership and agency, participation
    accepted) — defined there once."""
    held = access_for(user, now)
    return RoleAssignment.objects.current(now).filter(
        InList("role_id", sorted(held.role_ids)), person_id=user.pk, agency_id=held.agency_id
    )


def task_force_ids_with(user: Any, capability: str, *, writable: bool = False) -> list[int]:
    """Ids of task forces where the person has ``capability`` now (not closed ones, when
    ``writable``), from their kept access (``taskforces.access``)."""
    return access_for(user).task_forces(capability, writable=writable)


def roles_in(task_force_ids: list[int]) -> QuerySet[Any]:
    """Subquery: ids of the roles of these task forces."""
    return Role.objects.filter(InList("task_force_id", task_force_ids)).values("pk")


@register(TaskForce)
class TaskForcePolicy(Policy[TaskForce]):
    """A task force is seen and worked on only through current role assignments."""

    actions = tuple(TASK_FORCE_ACTIONS)

    def restrict(
        self, queryset: QuerySet[TaskForce], user: Any, action: str
    ) -> QuerySet[TaskForce]:
        capability = TASK_FORCE_ACTIONS[action]
        writable = capability not in (Capability.VIEW, Capability.VIEW_RESTRICTED)
        return queryset.filter(
            InList("pk", task_force_ids_with(user, capability, writable=writable))
        )

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


def _holds(user: Any, task_force_id: int, capability: str) -> bool:
    """Does the person hold ``capability`` in the task force, from their access (and, for
    a capability that changes things, is the task force still open)?"""
    writable = capability not in (Capability.VIEW, Capability.VIEW_RESTRICTED)
    return task_force_id in access_for(user).task_forces(capability, writable=writable)


def _task_force_chain(
    user: Any, task_force: TaskForce, capability: Capability
) -> tuple[list[Step], bool]:
    """Assignment → role → capability, with the agency and participation checks, in words."""
    steps: list[Step] = []
    membership = membership_of(user)
    if membership is None:
        return [
            Step(
                "You do not belong to any agency, so you hold no role anywhere"
                + (
                    " (being a portal administrator gives no access inside task forces)."
                    if getattr(user, "is_portal_admin", False)
                    else "."
                ),
                False,
            )
        ], False
    agency = membership.agency
    steps.append(Step(f"You are {membership.get_role_display().lower()} of {agency}.", True))
    if agency.status != Agency.Status.ACTIVE:
        steps.append(
            Step(
                f"{agency} is {agency.get_status_display().lower()}: its people have no access.",
                False,
            )
        )
        return steps, False
    participation = Participation.objects.filter(task_force=task_force, agency=agency).first()
    if participation is None or participation.status != Participation.Status.ACCEPTED:
        state = participation.get_status_display().lower() if participation else "not invited"
        steps.append(Step(f"{agency} does not take part in {task_force} ({state}).", False))
        return steps, False
    lead = " as lead agency" if task_force.lead_agency_id == agency.pk else ""
    steps.append(Step(f"{agency} takes part in {task_force}{lead}.", True))

    now = timezone.now()
    # the roles the rule counts (taskforces.access.holdings), and the others for the story
    current = list(
        holdings(now)
        .filter(person_id=user.pk, agency_id=agency.pk, role__task_force=task_force)
        .select_related("role", "assigned_by")
        .order_by("-starts_at")
    )
    if not current:
        assignments = list(
            RoleAssignment.objects.filter(person=user, role__task_force=task_force)
            .select_related("role")
            .order_by("-starts_at")
        )
        past = assignments[0] if assignments else None
        if past is not None and past.ended_at is not None:
            why = f" ({past.end_reason})" if past.end_reason else ""
            text = f"Your role {past.role.name} ended on {past.ended_at:%d %b %Y}{why}; you hold no current role in {task_force}."
        elif past is not None and past.ends_at is not None and past.ends_at <= now:
            text = f"Your role {past.role.name} expired on {past.ends_at:%d %b %Y}; you hold no current role in {task_force}."
        elif past is not None and past.starts_at > now:
            text = f"Your role {past.role.name} starts on {past.starts_at:%d %b %Y}; until then you hold no role in {task_force}."
        else:
            text = f"You hold no role in {task_force}."
        steps.append(Step(text, False))
        return steps, False
    grants = granted(a.role.group_id for a in current)
    granted_by = [a for a in current if capability.value in grants.get(a.role.group_id, ())]
    for assignment in granted_by or current:
        by = f", assigned by {assignment.assigned_by}" if assignment.assigned_by else ""
        until = f" until {assignment.ends_at:%d %b %Y}" if assignment.ends_at else ""
        steps.append(Step(f"You hold the role {assignment.role.name}{by}{until}.", True))
    if granted_by:
        names = ", ".join(a.role.name for a in granted_by)
        noun = "roles" if len(granted_by) > 1 else "role"
        verb = "include" if len(granted_by) > 1 else "includes"
        steps.append(Step(f"The {noun} {names} {verb} the capability “{capability.label}”.", True))
        return steps, True
    steps.append(
        Step(
            f"None of your roles in {task_force} includes the capability “{capability.label}”.",
            False,
        )
    )
    return steps, False


class ItemPolicy(Policy[Any]):
    """Objectives, tasks and updates: their task force's permissions plus their marking."""

    actions: tuple[str, ...] = ("view", "change")
    task_force_path = "task_force__"
    marking_field = "marking"

    def restrict(self, queryset: QuerySet[Any], user: Any, action: str) -> QuerySet[Any]:
        held = access_for(user)
        visible = self.visible(queryset, held)
        if action == "view":
            return visible
        return visible.filter(self.change_condition(user, held))

    def visible(self, queryset: QuerySet[Any], held: Access) -> QuerySet[Any]:
        """Items of task forces the person sees, marked no higher than what they see there
        (their agency's ceiling; TLP:RED also needs the view-restricted capability): one
        condition per ceiling — "in these task forces and marked at most AMBER, or in
        those and marked at most RED..." — over the task force index."""
        return queryset.filter(visible_items(held, f"{self.task_force_path}id", self.marking_field))

    def change_condition(self, user: Any, held: Access) -> Q:
        capability = ITEM_CHANGE_CAPABILITY[self.model]
        return Q(InList("task_force_id", held.task_forces(capability, writable=True)))

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


@register(Update)
class UpdatePolicy(ItemPolicy):
    """Updates are changed (corrected) by those who may edit the task force; acknowledged
    by the people they ask, when those people can see them."""

    model = Update
    actions = ("view", "change", "acknowledge")

    def restrict(self, queryset: QuerySet[Any], user: Any, action: str) -> QuerySet[Any]:
        if action != "acknowledge":
            return super().restrict(queryset, user, action)
        ack_roles = Update.ack_roles.through.objects
        ack_agencies = Update.ack_agencies.through.objects
        held = access_for(user)
        asks_me = ack_roles.filter(InList("role_id", sorted(held.role_ids)))
        asks_my_agency = ack_agencies.filter(agency_id=AgencyOf(user))
        asks_everyone = ~Exists(ack_roles.filter(update_id=OuterRef("pk"))) & ~Exists(
            ack_agencies.filter(update_id=OuterRef("pk"))
        )
        return (
            self.visible(queryset, held)
            .filter(requires_acknowledgement=True)
            .filter(
                asks_everyone
                | Q(pk__in=asks_me.values("update_id"))
                | Q(pk__in=asks_my_agency.values("update_id"))
            )
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


def reviewed_agency_ids(user: Any) -> QuerySet[Membership, Any]:
    """Subquery: the agencies whose people's role assignments the person reviews (access
    review): those they are an active agency administrator of, unless offboarded or
    rejected. Portal administrators review none: recertifying is the agency's own word
    that its person still needs the role."""
    return (
        Membership.objects.filter(user_id=user.pk, is_active=True, role=Membership.Role.ADMIN)
        .exclude(agency__status__in=(Agency.Status.OFFBOARDED, Agency.Status.REJECTED))
        .values("agency_id")
    )


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
        reviewed = Q(agency_id__in=reviewed_agency_ids(user))
        if action == "view":
            # three index conditions ORed (PostgreSQL reads each from its index and ORs
            # the bitmaps): the roles of the task forces the person sees, and the agencies
            # they review, as InitPlan arrays (a plain IN subquery is no index condition,
            # and the OR would scan every assignment)
            return queryset.filter(
                Q(InSubquery("role_id", roles_in(task_force_ids_with(user, Capability.VIEW))))
                | Q(person_id=user.pk)
                | Q(InSubquery("agency_id", reviewed_agency_ids(user)))
            )
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
        liaison_of = Membership.objects.filter(
            user_id=user.pk,
            is_active=True,
            role=Membership.Role.LIAISON,
            agency__status=Agency.Status.ACTIVE,
        ).values("agency_id")
        return queryset.filter(agency_id__in=liaison_of).exclude(
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


# --- audiences: the permission core's answer turned round ("who may see this?") ---------------


def holders(
    task_force: TaskForce,
    capability: str = Capability.VIEW,
    *,
    agency_ids: list[int] | None = None,
) -> QuerySet[Any]:
    """People who hold ``capability`` on the task force now (of ``agency_ids`` only, when
    given): the access rule (``taskforces.access``) anchored on the task force instead of
    on a person."""
    from coordination.models import User

    where = (
        "r.task_force_id = %s AND EXISTS (SELECT 1 FROM "
        "taskforces_taskforcegroupobjectpermission g JOIN auth_permission p "
        "ON p.id = g.permission_id WHERE g.group_id = r.group_id "
        "AND g.content_object_id = r.task_force_id AND p.codename = %s)"
    )
    params: list[Any] = [task_force.pk, capability]
    if agency_ids is not None:
        if not agency_ids:
            return User.objects.none()
        where += f" AND ra.agency_id IN ({', '.join(['%s'] * len(agency_ids))})"
        params += [int(a) for a in agency_ids]
    people = holding_ids(timezone.now(), where=where, params=params, select="ra.person_id")
    return User.objects.filter(pk__in=people)


def audience(obj: Any) -> QuerySet[Any]:
    """Everyone who may view ``obj`` (a task force or anything in one): the access rule
    anchored on the object, in a constant number of queries — the holders of "view"
    there whose agency's ceiling covers the item's marking (and of "view restricted" for
    TLP:RED)."""
    if isinstance(obj, TaskForce):
        return holders(obj)
    task_force = obj.task_force
    if isinstance(obj, (Role, OperationalPeriod)):  # seen by whoever sees the task force
        return holders(task_force)
    marking = int(obj.marking)
    accepted = list(
        Participation.objects.filter(
            task_force=task_force, status=Participation.Status.ACCEPTED
        ).values_list("agency_id", flat=True)
    )
    found = ceilings(
        ((agency, task_force.pk, task_force.lead_agency_id) for agency in accepted),
        timezone.localdate(),
    )
    cleared = sorted(a for a in accepted if found[(a, task_force.pk)].marking >= marking)
    people = holders(task_force, agency_ids=cleared)
    if marking >= Marking.RED:
        restricted = holders(task_force, Capability.VIEW_RESTRICTED, agency_ids=cleared)
        people = people.filter(pk__in=restricted.values("pk"))
    return people


def acknowledgement_audience(update: Update) -> QuerySet[Any]:
    """Everyone an update asks to acknowledge it, among those who may see it."""
    people = audience(update)
    roles = list(update.ack_roles.values_list("pk", flat=True))
    agencies = list(update.ack_agencies.values_list("pk", flat=True))
    if not roles and not agencies:
        return people
    in_roles = RoleAssignment.objects.current().filter(role_id__in=roles).values("person_id")
    return people.filter(
        Q(pk__in=in_roles) | Q(memberships__agency_id__in=agencies, memberships__is_active=True)
    ).distinct()
