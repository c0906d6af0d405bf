"""Who sees and does what in mutual aid, from the one access rule (``taskforces.access``).

A resource request is an item inside a task force, like an objective: a person sees it
when they hold "view" in its task force and its marking is within their agency's ceiling
there (TLP:RED also needs "view restricted") — **and** their agency is the requesting
agency or one it is addressed to (every participating agency, or named ones). An agency
that is not addressed sees nothing of it.

An offer (and the commitment it becomes) is seen by those who see its request and belong
to the offering agency or the requesting agency: addressed agencies do not see each
other's offers.

What each step needs, besides seeing the object:

* raise a request: the "request resources" capability in the task force (not closed);
* offer: a liaison officer of an addressed agency other than the requesting one;
* decide (accept, decline) an offer: the "approve resources" capability, in the
  requesting agency;
* cancel a request: "request resources" or "approve resources", in the requesting agency;
* withdraw an offer: a liaison officer of the offering agency;
* move a commitment on (mobilised, on scene, demobilised, cancelled): a liaison officer of
  the committed agency, or an approver of the requesting agency.

Whether the object is in a state that allows the step (an open request, a pending offer)
is the services' business: a refusal for state is a ValidationError (400), not a 403.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, Q, QuerySet

from agencies.models import Agency, Membership
from agencies.selectors import membership_of
from coordination.permissions import Explanation, InList, Policy, Step, register
from taskforces.access import Access, access_for
from taskforces.models import Capability, TaskForce
from taskforces.permissions import ItemPolicy
from taskforces.permissions.explanations import _task_force_chain

from .models import AgencyCapability, Commitment, Offer, ResourceKind, ResourceRequest

REQUEST = Capability.REQUEST_RESOURCES
APPROVE = Capability.APPROVE_RESOURCES


def _is_liaison(user: Any, held: Access) -> bool:
    """A liaison officer of their (active) agency."""
    membership = membership_of(user)
    return (
        held.agency_id is not None
        and membership is not None
        and membership.agency_id == held.agency_id
        and membership.role == Membership.Role.LIAISON
    )


def _writable(held: Access, capability: str) -> list[int]:
    return held.task_forces(capability, writable=True)


def addressed_condition(agency_id: int, prefix: str = "") -> Q:
    """Requests (through ``prefix``) the agency may see by address: it requested them, or
    they are addressed to every participating agency, or to it by name."""
    through = ResourceRequest.addressed_agencies.through.objects
    named = through.filter(agency_id=agency_id).values("resourcerequest_id")
    return (
        Q(**{f"{prefix}addressed_to_all": True})
        | Q(**{f"{prefix}requesting_agency_id": agency_id})
        | Q(**{f"{prefix}pk__in": named})
    )


def may_raise(user: Any, task_force: TaskForce) -> Explanation:
    """May the person raise a resource request in the task force?"""
    steps, granted = _task_force_chain(user, task_force, REQUEST)
    if granted and task_force.is_closed:
        steps.append(Step(f"{task_force} is closed.", False))
        granted = False
    return Explanation(granted, "request_resources", steps)


class _MutualAidPolicy(ItemPolicy):
    """The marking and task force part comes from the task forces' item policy (the same
    ceiling, the same explanation); the addressing part is added here."""

    request_prefix = ""

    def visible(self, queryset: QuerySet[Any], held: Access) -> QuerySet[Any]:
        if held.agency_id is None:
            return queryset.none()
        seen = super().visible(queryset, held)
        return seen.filter(self.addressed(held.agency_id))

    def addressed(self, agency_id: int) -> Q:
        return addressed_condition(agency_id, self.request_prefix)

    def decides(self, user: Any, action: str, obj: Any) -> bool | None:
        """Never from the person's access alone: who sees a request also depends on the
        agencies it is addressed to (and an offer on the agency that made it), which only
        ``restrict`` knows; so the database is asked."""
        return None

    def request_of(self, obj: Any) -> ResourceRequest:
        return obj if isinstance(obj, ResourceRequest) else obj.request

    def restrict(self, queryset: QuerySet[Any], user: Any, action: str) -> QuerySet[Any]:
        held = access_for(user)
        visible = self.visible(queryset, held)
        if action == "view":
            return visible
        return self.action_condition(visible, user, held, action)

    def action_condition(
        self, visible: QuerySet[Any], user: Any, held: Access, action: str
    ) -> QuerySet[Any]:
        raise NotImplementedError

    def explain_view(self, user: Any, obj: Any) -> Explanation:
        """The task force and marking chain, then the addressing step."""
        seen = ItemPolicy.explain(self, user, "view", obj)
        if not seen:
            return seen
        steps = list(seen.steps)
        request = self.request_of(obj)
        membership = membership_of(user)
        agency_id = membership.agency_id if membership else None
        if request.requesting_agency_id == agency_id:
            steps.append(Step(f"Your agency raised {request.reference}.", True))
        elif request.addressed_to_all:
            steps.append(
                Step(f"{request.reference} is addressed to every agency taking part.", True)
            )
        elif agency_id is not None and request.addressed_agencies.filter(pk=agency_id).exists():
            steps.append(Step(f"{request.reference} is addressed to your agency.", True))
        else:
            steps.append(Step(f"{request.reference} is not addressed to your agency.", False))
            return Explanation(False, "view", steps)
        return Explanation(True, "view", steps)

    def explain(self, user: Any, action: str, obj: Any) -> Explanation:
        seen = self.explain_view(user, obj)
        if action == "view" or not seen:
            return Explanation(seen.allowed, action, seen.steps)
        return self.explain_action(user, action, obj, list(seen.steps))

    def explain_action(self, user: Any, action: str, obj: Any, steps: list[Step]) -> Explanation:
        raise NotImplementedError

    def _capability_step(
        self, user: Any, request: ResourceRequest, capability: Capability, steps: list[Step]
    ) -> bool:
        """The requesting agency's step, then the capability's (from the chain)."""
        membership = membership_of(user)
        if membership is None or membership.agency_id != request.requesting_agency_id:
            steps.append(
                Step(f"Only {request.requesting_agency} decides on its own requests.", False)
            )
            return False
        chain, granted = _task_force_chain(user, request.task_force, capability)
        steps.append(chain[-1])
        if granted and request.task_force.is_closed:
            steps.append(Step(f"{request.task_force} is closed.", False))
            return False
        return granted

    def _liaison_step(self, user: Any, agency: Agency, steps: list[Step]) -> bool:
        membership = membership_of(user)
        holds = (
            membership is not None
            and membership.agency_id == agency.pk
            and membership.role == Membership.Role.LIAISON
        )
        steps.append(
            Step(
                f"You are a liaison officer of {agency}."
                if holds
                else f"Only {agency}'s liaison officers act for it.",
                holds,
            )
        )
        return holds


@register(ResourceRequest)
class ResourceRequestPolicy(_MutualAidPolicy):
    """Resource requests: seen by the requesting and the addressed agencies (within their
    ceiling); offered against by addressed agencies' liaison officers; decided on and
    cancelled by the requesting agency's holders of the resource capabilities."""

    model = ResourceRequest
    actions = ("view", "offer", "decide", "cancel")

    def action_condition(
        self, visible: QuerySet[Any], user: Any, held: Access, action: str
    ) -> QuerySet[Any]:
        if held.agency_id is None:  # (visible() is empty then anyway)
            return visible.none()
        if action == "offer":
            if not _is_liaison(user, held):
                return visible.none()
            open_tf = ~Q(InList("task_force_id", sorted(held.closed)))
            return visible.filter(open_tf).exclude(requesting_agency_id=held.agency_id)
        mine = Q(requesting_agency_id=held.agency_id)
        if action == "decide":
            return visible.filter(mine, InList("task_force_id", _writable(held, APPROVE)))
        # cancel
        either = sorted({*_writable(held, APPROVE), *_writable(held, REQUEST)})
        return visible.filter(mine, InList("task_force_id", either))

    def explain_action(
        self, user: Any, action: str, obj: ResourceRequest, steps: list[Step]
    ) -> Explanation:
        if action == "offer":
            membership = membership_of(user)
            if membership is not None and membership.agency_id == obj.requesting_agency_id:
                steps.append(
                    Step("Your agency raised this request; it cannot offer to itself.", False)
                )
                return Explanation(False, action, steps)
            granted = membership is not None and self._liaison_step(user, membership.agency, steps)
            if granted and obj.task_force.is_closed:
                steps.append(Step(f"{obj.task_force} is closed.", False))
                granted = False
            return Explanation(granted, action, steps)
        if action == "decide":
            return Explanation(self._capability_step(user, obj, APPROVE, steps), action, steps)
        # cancel: either capability
        trial: list[Step] = []
        if self._capability_step(user, obj, REQUEST, trial):
            return Explanation(True, action, steps + trial)
        return Explanation(self._capability_step(user, obj, APPROVE, steps), action, steps)


@register(Offer)
class OfferPolicy(_MutualAidPolicy):
    """Offers: seen by the offering and the requesting agency's people who see the
    request; withdrawn by the offering agency's liaison officers; accepted or declined by
    the requesting agency's approvers."""

    model: type[Model] = Offer
    actions: tuple[str, ...] = ("view", "withdraw", "decide")
    task_force_path = "request__task_force__"
    marking_field = "request__marking"
    request_prefix = "request__"

    def visible(self, queryset: QuerySet[Any], held: Access) -> QuerySet[Any]:
        seen = super().visible(queryset, held)
        if held.agency_id is None:
            return seen
        return seen.filter(
            Q(agency_id=held.agency_id) | Q(request__requesting_agency_id=held.agency_id)
        )

    def action_condition(
        self, visible: QuerySet[Any], user: Any, held: Access, action: str
    ) -> QuerySet[Any]:
        if action == "withdraw":
            if not _is_liaison(user, held):
                return visible.none()
            open_tf = ~Q(InList("request__task_force_id", sorted(held.closed)))
            return visible.filter(open_tf, agency_id=held.agency_id)
        return visible.filter(
            InList("request__task_force_id", _writable(held, APPROVE)),
            request__requesting_agency_id=held.agency_id,
        )

    def explain_view(self, user: Any, obj: Any) -> Explanation:
        seen = super().explain_view(user, obj)
        if not seen:
            return seen
        membership = membership_of(user)
        agency_id = membership.agency_id if membership else None
        if agency_id in (obj.agency_id, obj.request.requesting_agency_id):
            seen.steps.append(Step("Your agency made it or asked for it.", True))
            return seen
        seen.steps.append(
            Step("Offers are seen only by the offering and the requesting agency.", False)
        )
        return Explanation(False, "view", seen.steps)

    def explain_action(self, user: Any, action: str, obj: Any, steps: list[Step]) -> Explanation:
        if action == "withdraw":
            granted = self._liaison_step(user, obj.agency, steps)
            if granted and obj.request.task_force.is_closed:
                steps.append(Step(f"{obj.request.task_force} is closed.", False))
                granted = False
            return Explanation(granted, action, steps)
        return Explanation(self._capability_step(user, obj.request, APPROVE, steps), action, steps)


@register(Commitment)
class CommitmentPolicy(OfferPolicy):
    """Commitments: seen like the offer they came from; moved on (mobilised, on scene,
    demobilised, cancelled) by the committed agency's liaison officers or the requesting
    agency's approvers."""

    model = Commitment
    actions = ("view", "progress")

    def action_condition(
        self, visible: QuerySet[Any], user: Any, held: Access, action: str
    ) -> QuerySet[Any]:
        approver = Q(InList("request__task_force_id", _writable(held, APPROVE))) & Q(
            request__requesting_agency_id=held.agency_id
        )
        if _is_liaison(user, held):
            open_tf = ~Q(InList("request__task_force_id", sorted(held.closed)))
            return visible.filter(approver | (Q(agency_id=held.agency_id) & open_tf))
        return visible.filter(approver)

    def explain_action(self, user: Any, action: str, obj: Any, steps: list[Step]) -> Explanation:
        trial: list[Step] = []
        if self._liaison_step(user, obj.agency, trial) and not obj.request.task_force.is_closed:
            return Explanation(True, action, steps + trial)
        return Explanation(self._capability_step(user, obj.request, APPROVE, steps), action, steps)


@register(ResourceKind)
class ResourceKindPolicy(Policy[ResourceKind]):
    """The catalogue is public to everyone signed in (only its active kinds)."""

    actions = ("view",)

    def restrict(
        self, queryset: QuerySet[ResourceKind], user: Any, action: str
    ) -> QuerySet[ResourceKind]:
        return queryset.filter(is_active=True)

    def explain(self, user: Any, action: str, obj: ResourceKind) -> Explanation:
        return Explanation(
            obj.is_active,
            action,
            [Step("Everyone signed in sees the resource catalogue.", obj.is_active)],
        )


@register(AgencyCapability)
class AgencyCapabilityPolicy(Policy[AgencyCapability]):
    """What an active agency says it can usually provide is seen by everyone signed in
    (like the agency directory); the agency's liaison officers and administrators keep
    it."""

    actions = ("view", "change")

    def restrict(
        self, queryset: QuerySet[AgencyCapability], user: Any, action: str
    ) -> QuerySet[AgencyCapability]:
        if action == "view":
            return queryset.filter(agency__status=Agency.Status.ACTIVE)
        membership = membership_of(user)
        if (
            membership is None
            or membership.role not in Membership.AGREEMENT_ROLES
            or membership.agency.status != Agency.Status.ACTIVE
        ):
            return queryset.none()
        return queryset.filter(agency_id=membership.agency_id)

    def explain(self, user: Any, action: str, obj: AgencyCapability) -> Explanation:
        if action == "view":
            active = obj.agency.status == Agency.Status.ACTIVE
            return Explanation(
                active,
                action,
                [Step("Active agencies' capabilities are public to everyone signed in.", active)],
            )
        holds = may_keep_capabilities(user, obj.agency)
        return Explanation(
            holds,
            action,
            [
                Step(
                    f"You keep {obj.agency}'s capabilities."
                    if holds
                    else f"Only {obj.agency}'s liaison officers and administrators keep its capabilities.",
                    holds,
                )
            ],
        )


def may_keep_capabilities(user: Any, agency: Agency) -> bool:
    """A liaison officer or administrator of the agency, which is active."""
    membership = membership_of(user)
    return (
        membership is not None
        and membership.agency_id == agency.pk
        and membership.role in Membership.AGREEMENT_ROLES
        and agency.status == Agency.Status.ACTIVE
    )


def audience(obj: ResourceRequest | Offer | Commitment) -> QuerySet[Any]:
    """Everyone who may see ``obj``: the task forces' audience of an item of its marking
    (the access rule anchored on the task force), kept to the agencies that see it by
    address — the requesting agency and the addressed ones, and for an offer or a
    commitment only the offering and the requesting agency."""
    from taskforces.permissions import audience as item_audience

    request = obj if isinstance(obj, ResourceRequest) else obj.request
    people = item_audience(request)
    if isinstance(obj, ResourceRequest):
        if request.addressed_to_all:
            return people
        agencies = [
            request.requesting_agency_id,
            *request.addressed_agencies.values_list("pk", flat=True),
        ]
    else:
        agencies = [request.requesting_agency_id, obj.agency_id]
    return people.filter(
        memberships__agency_id__in=agencies, memberships__is_active=True
    ).distinct()
