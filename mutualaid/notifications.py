"""The kinds of notification mutual aid causes: who hears about each, and what it says.

Recipients are always a part of the object's audience (``mutualaid.permissions.audience``,
the access rule turned round), so nobody is told about a request they may not see; the
core checks visibility again when it sends. A TLP:RED request's e-mails carry no text.

* a new request → the liaison officers of the addressed agencies;
* a new offer → the requesting agency's approvers (holders of "approve resources");
* a decision on an offer → the offering agency's liaison officers;
* a commitment not mobilised when its request needed it → both of the above.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse

from agencies.models import Membership
from coordination.models import Event, User
from coordination.notifications import Kind, Message, register
from coordination.permissions.markings import Marking
from taskforces.models import Capability, Participation
from taskforces.permissions import holders

from .models import Commitment, Offer, ResourceRequest
from .permissions import audience


def _liaisons_of(agency_ids: list[int]) -> QuerySet[User]:
    return User.objects.filter(
        is_active=True,
        memberships__agency_id__in=agency_ids,
        memberships__is_active=True,
        memberships__role=Membership.Role.LIAISON,
    )


def _approvers(request: ResourceRequest) -> QuerySet[User]:
    return holders(
        request.task_force,
        Capability.APPROVE_RESOURCES,
        agency_ids=[request.requesting_agency_id],
    )


def _text(text: str, marking: int) -> str:
    if marking >= Marking.RED:
        return "This request is marked TLP:RED. Open Concord to read it."
    return text if len(text) <= 1500 else text[:1500] + "…"


def _link(request: ResourceRequest) -> str:
    return reverse("mutualaid:request", args=[request.pk])


# --- a new request ----------------------------------------------------------------------------


def _addressed_liaisons(event: Event, request: ResourceRequest) -> QuerySet[User]:
    if request.addressed_to_all:
        agencies = [
            a
            for a in request.task_force.participations.filter(
                status=Participation.Status.ACCEPTED
            ).values_list("agency_id", flat=True)
            if a != request.requesting_agency_id
        ]
    else:
        agencies = list(request.addressed_agencies.values_list("pk", flat=True))
    wanted = _liaisons_of(agencies)
    return audience(request).filter(pk__in=wanted.values("pk"))


def _request_message(event: Event, request: ResourceRequest) -> Message:
    title = (
        f"Resource request {request.reference} in {request.task_force.name}"
        if request.marking >= Marking.RED
        else f"{request.task_force.name} asks for {request.quantity} × {request.what} "
        f"({request.get_priority_display().lower()})"
    )
    body = _text(
        f"Needed by {request.needed_by:%d %b %Y %H:%M} UTC at {request.location}.\n"
        f"{request.justification}",
        request.marking,
    )
    return Message(title=title, body=body, link=_link(request))


register(
    Kind(
        name="resource_request.raised",
        label="A task force asks your agency for resources",
        recipients=_addressed_liaisons,
        message=_request_message,
        audience=audience,
    )
)


# --- offers and decisions ---------------------------------------------------------------------


def _approvers_of_offer(event: Event, offer: Offer) -> QuerySet[User]:
    return audience(offer).filter(pk__in=_approvers(offer.request).values("pk"))


def _offering_liaisons(event: Event, offer: Offer) -> QuerySet[User]:
    return audience(offer).filter(pk__in=_liaisons_of([offer.agency_id]).values("pk"))


def _offer_message(template: str) -> Any:
    def message(event: Event, offer: Offer) -> Message:
        request = offer.request
        red = request.marking >= Marking.RED
        return Message(
            title=template.format(
                agency=offer.agency,
                quantity=offer.quantity,
                reference=request.reference,
                task_force=request.task_force.name,
                what="" if red else f" ({request.what})",
            ),
            body=_text(offer.reason or offer.conditions, request.marking),
            link=_link(request),
        )

    return message


register(
    Kind(
        name="resource_offer.made",
        label="An agency offers resources against your task force's request",
        recipients=_approvers_of_offer,
        message=_offer_message(
            "{agency} offers {quantity} against {reference}{what} in {task_force}"
        ),
        audience=audience,
    )
)
register(
    Kind(
        name="resource_offer.accepted",
        label="Your agency's offer of resources is accepted",
        recipients=_offering_liaisons,
        message=_offer_message("Accepted: your offer against {reference}{what} in {task_force}"),
        audience=audience,
    )
)
register(
    Kind(
        name="resource_offer.declined",
        label="Your agency's offer of resources is declined",
        recipients=_offering_liaisons,
        message=_offer_message("Declined: your offer against {reference}{what} in {task_force}"),
        audience=audience,
    )
)


# --- overdue mobilisation ---------------------------------------------------------------------


def _both_sides_while_overdue(event: Event, commitment: Commitment) -> QuerySet[User]:
    """The committed agency's liaison officers and the requesting agency's approvers, while
    the commitment is still waiting (one mobilised or cancelled before the fan-out tells
    nobody)."""
    if commitment.status != Commitment.Status.COMMITTED:
        return User.objects.none()
    wanted = Q(pk__in=_liaisons_of([commitment.agency_id]).values("pk")) | Q(
        pk__in=_approvers(commitment.request).values("pk")
    )
    return audience(commitment).filter(wanted)


def _overdue_message(event: Event, commitment: Commitment) -> Message:
    request = commitment.request
    return Message(
        title=f"Not mobilised: {commitment.agency}'s {commitment.quantity} for "
        f"{request.reference} in {request.task_force.name} were needed by "
        f"{request.needed_by:%d %b %Y %H:%M} UTC",
        link=_link(request),
    )


register(
    Kind(
        name="commitment.overdue",
        label="Committed resources are not mobilised in time",
        recipients=_both_sides_while_overdue,
        message=_overdue_message,
        audience=audience,
        critical=True,
    )
)
