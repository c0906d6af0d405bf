"""Every write of mutual aid: raise a request, offer, accept or decline an offer,
withdraw it, move a commitment on, cancel a request; and an agency's capabilities.

Each service runs in one transaction and locks rows in the one order
(docs/decisions/0002-one-lock-order.md, extended by docs/decisions/0011-mutual-aid.md):
**the task force, then the request, then its offers (lower id first), then the
commitments**. So two approvers accepting offers against the same request at the same
moment queue on the request's row, and the second one counts the first one's commitment
before it commits its own: a request is never committed beyond its quantity.

Each checks who may through the permission core (``require``), validates, saves, records
an audit event and emits the notification the change causes, in the same transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from agencies.models import Agency
from agencies.selectors import membership_of
from coordination import audit, notifications
from coordination.models import User
from coordination.permissions import PermissionDenied, require
from coordination.validators import validate_fields
from taskforces.models import TaskForce
from taskforces.services import lock_task_forces
from taskforces.services._common import _accepted_agency_ids, _check_marking, _reread_or_rollback

from .models import (
    MAX_QUANTITY,
    AgencyCapability,
    Commitment,
    CommitmentChange,
    Offer,
    ResourceKind,
    ResourceRequest,
)
from .permissions import may_keep_capabilities, may_raise

C = Commitment.Status
R = ResourceRequest.Status
O = Offer.Status  # noqa: E741 - the offer's statuses, as R and C

# Where a commitment may go from each status: forward through the deployment, or
# cancelled before it reaches the scene.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    C.COMMITTED: (C.MOBILISED, C.CANCELLED),
    C.MOBILISED: (C.ON_SCENE, C.DEMOBILISED, C.CANCELLED),
    C.ON_SCENE: (C.DEMOBILISED,),
    C.DEMOBILISED: (),
    C.CANCELLED: (),
}


# --- locks ------------------------------------------------------------------------------------


def _lock_request(request_id: int) -> ResourceRequest:
    """The request's task force, then the request itself, read afresh under its lock."""
    task_force_id = (
        ResourceRequest.objects.filter(pk=request_id).values_list("task_force_id", flat=True).get()
    )
    lock_task_forces([task_force_id])
    return (
        ResourceRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("task_force", "requesting_agency", "kind")
        .get(pk=request_id)
    )


def _lock_offers(offer_ids: Iterable[int]) -> list[Offer]:
    """Offers of one request (whose lock the caller holds), lower id first."""
    return list(
        Offer.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=sorted(set(offer_ids)))
        .select_related("agency")
        .order_by("pk")
    )


def committed_quantity(request: ResourceRequest) -> int:
    """How many units are committed against the request (cancelled commitments free
    theirs again)."""
    total = (
        Commitment.objects.filter(request=request)
        .exclude(status=C.CANCELLED)
        .aggregate(total=Sum("quantity"))["total"]
    )
    return int(total or 0)


def _quantity(value: Any, field: str = "quantity") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError({field: "Give a whole number."})
    if value < 1 or value > MAX_QUANTITY:
        raise ValidationError({field: f"Give a number from 1 to {MAX_QUANTITY:,}."})
    return value


def _agency_of(user: User) -> Agency:
    membership = membership_of(user)
    if membership is None:
        raise PermissionDenied("You do not belong to an agency.")
    return membership.agency


# --- requests ---------------------------------------------------------------------------------


@transaction.atomic
def raise_request(
    *,
    task_force: TaskForce,
    by: User,
    quantity: int,
    location: str,
    needed_by: datetime.datetime,
    justification: str,
    kind: ResourceKind | None = None,
    description: str = "",
    priority: int = ResourceRequest.Priority.ROUTINE,
    marking: int | None = None,
    addressed_agencies: Iterable[Agency] = (),
) -> ResourceRequest:
    """Raise a resource request in the task force for the person's agency, addressed to
    the named participating agencies or, naming none, to every participating agency."""
    lock_task_forces([task_force.pk])
    task_force.refresh_from_db()
    explanation = may_raise(by, task_force)
    if not explanation:
        raise PermissionDenied(explanation, obj=task_force)
    agency = _agency_of(by)
    marking = task_force.marking if marking is None else marking
    _check_marking(marking, by, task_force)
    errors: dict[str, str] = {}
    if kind is not None and not kind.is_active:
        errors["kind"] = "This kind of resource is no longer in the catalogue."
    if kind is None and not description.strip():
        errors["description"] = "Choose a kind of resource or say what is needed."
    if needed_by is not None and needed_by <= timezone.now():
        errors["needed_by"] = "When it is needed must be in the future."
    addressed = list(addressed_agencies)
    accepted = _accepted_agency_ids(task_force)
    outsiders = [str(a) for a in addressed if a.pk not in accepted]
    if outsiders:
        errors["addressed_agencies"] = (
            f"Not taking part in this task force: {', '.join(sorted(outsiders))}."
        )
    elif any(a.pk == agency.pk for a in addressed):
        errors["addressed_agencies"] = "Address other agencies, not your own."
    if errors:
        raise ValidationError(errors)
    _quantity(quantity)
    number = (
        ResourceRequest.objects.filter(task_force=task_force).aggregate(n=Max("number"))["n"] or 0
    ) + 1
    request = ResourceRequest(
        task_force=task_force,
        number=number,
        requesting_agency=agency,
        requested_by=by,
        kind=kind,
        description=description.strip(),
        quantity=quantity,
        location=location.strip(),
        needed_by=needed_by,
        priority=priority,
        justification=justification.strip(),
        marking=marking,
        addressed_to_all=not addressed,
    )
    request.full_clean()
    request.save()
    request.addressed_agencies.set(addressed)
    _reread_or_rollback(request, by)
    audit.record(
        actor=by,
        action="resource_request.raised",
        obj=request,
        after={
            "what": request.what,
            "quantity": quantity,
            "needed_by": needed_by.isoformat(),
            "priority": request.get_priority_display(),
            "marking": marking,
            "addressed": sorted(a.pk for a in addressed) or "all",
        },
    )
    notifications.emit("resource_request.raised", request, actor=by)
    return request


@transaction.atomic
def cancel_request(*, request: ResourceRequest, by: User, reason: str) -> ResourceRequest:
    """Cancel a request: its pending offers are declined and its commitments not yet
    mobilised are cancelled; resources already mobilised or on scene stay to be
    demobilised."""
    request = _lock_request(request.pk)
    require(by, "cancel", request)
    if request.status == R.CANCELLED:
        raise ValidationError({"status": "This request is already cancelled."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the request is cancelled."})
    now = timezone.now()
    pending = _lock_offers(request.offers.filter(status=O.PENDING).values_list("pk", flat=True))
    for offer in pending:
        offer.status, offer.decided_by, offer.decided_at = O.DECLINED, by, now
        offer.reason = "The request was cancelled."
        offer.save(update_fields=["status", "decided_by", "decided_at", "reason"])
    waiting = Commitment.objects.select_for_update(no_key=True, of=("self",)).filter(
        request=request, status=C.COMMITTED
    )
    for commitment in waiting.order_by("pk"):
        _move(commitment, C.CANCELLED, by, "The request was cancelled.")
    before = request.status
    request.status, request.cancelled_by, request.cancelled_at = R.CANCELLED, by, now
    request.cancel_reason = reason.strip()
    validate_fields(request, {"cancel_reason": "reason"})
    request.save(
        update_fields=["status", "cancelled_by", "cancelled_at", "cancel_reason", "updated_at"]
    )
    audit.record(
        actor=by,
        action="resource_request.cancelled",
        obj=request,
        before={"status": before},
        after={"status": request.status, "reason": request.cancel_reason},
    )
    return request


# --- offers -----------------------------------------------------------------------------------


@transaction.atomic
def make_offer(
    *,
    request: ResourceRequest,
    by: User,
    description: str,
    quantity: int,
    available_from: datetime.datetime,
    conditions: str = "",
) -> Offer:
    """An addressed agency's liaison officer offers all or part of what is requested."""
    request = _lock_request(request.pk)
    require(by, "offer", request)
    if request.status != R.OPEN:
        raise ValidationError(
            {"request": f"This request is {request.get_status_display().lower()}: no more offers."}
        )
    _quantity(quantity)
    if quantity > request.quantity:
        raise ValidationError(
            {"quantity": f"The request is for {request.quantity}; offer at most that many."}
        )
    offer = Offer(
        request=request,
        agency=_agency_of(by),
        offered_by=by,
        description=description.strip(),
        quantity=quantity,
        available_from=available_from,
        conditions=conditions.strip(),
    )
    offer.full_clean()
    offer.save()
    _reread_or_rollback(offer, by)
    audit.record(
        actor=by,
        action="resource_offer.made",
        obj=offer,
        after={
            "request": request.pk,
            "quantity": quantity,
            "available_from": available_from.isoformat(),
        },
    )
    notifications.emit("resource_offer.made", offer, actor=by)
    return offer


def _decided(offer: Offer, to: str, by: User, reason: str) -> None:
    offer.status, offer.decided_by, offer.decided_at = to, by, timezone.now()
    offer.reason = reason.strip()
    validate_fields(offer, {"reason": "reason"})
    offer.save(update_fields=["status", "decided_by", "decided_at", "reason"])


@transaction.atomic
def accept_offer(*, offer: Offer, by: User, quantity: int | None = None) -> Commitment:
    """Accept an offer (all of it, or ``quantity`` of it): it becomes a commitment. Never
    beyond what the request still needs, however many approvers accept at once (the
    request's lock, above); the request is fulfilled when the need is met."""
    request = _lock_request(offer.request_id)
    (offer,) = _lock_offers([offer.pk])
    require(by, "decide", offer)
    if offer.status != O.PENDING:
        raise ValidationError({"offer": f"This offer is {offer.get_status_display().lower()}."})
    if request.status != R.OPEN:
        raise ValidationError(
            {"request": f"The request is {request.get_status_display().lower()}."}
        )
    accepted = offer.quantity if quantity is None else _quantity(quantity)
    if accepted > offer.quantity:
        raise ValidationError({"quantity": f"The offer is for {offer.quantity} at most."})
    remaining = request.quantity - committed_quantity(request)
    if accepted > remaining:
        raise ValidationError(
            {
                "quantity": f"Only {remaining} still needed; accept at most {remaining}."
                if remaining
                else "Nothing more is needed."
            }
        )
    _decided(offer, O.ACCEPTED, by, "")
    commitment = Commitment.objects.create(
        offer=offer, request=request, agency=offer.agency, quantity=accepted
    )
    CommitmentChange.objects.create(
        commitment=commitment,
        from_status="",
        to_status=C.COMMITTED,
        by=by,
        by_agency=_agency_of(by),
    )
    if accepted == remaining:
        request.status = R.FULFILLED
        request.save(update_fields=["status", "updated_at"])
    audit.record(
        actor=by,
        action="resource_offer.accepted",
        obj=offer,
        before={"status": O.PENDING},
        after={"status": O.ACCEPTED, "quantity": accepted, "commitment": commitment.pk},
    )
    notifications.emit("resource_offer.accepted", offer, actor=by)
    return commitment


@transaction.atomic
def decline_offer(*, offer: Offer, by: User, reason: str) -> Offer:
    """Decline an offer, saying why (the offering agency is told)."""
    _lock_request(offer.request_id)
    (offer,) = _lock_offers([offer.pk])
    require(by, "decide", offer)
    if offer.status != O.PENDING:
        raise ValidationError({"offer": f"This offer is {offer.get_status_display().lower()}."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the offer is declined."})
    _decided(offer, O.DECLINED, by, reason)
    audit.record(
        actor=by,
        action="resource_offer.declined",
        obj=offer,
        before={"status": O.PENDING},
        after={"status": O.DECLINED, "reason": offer.reason},
    )
    notifications.emit("resource_offer.declined", offer, actor=by)
    return offer


@transaction.atomic
def withdraw_offer(*, offer: Offer, by: User, reason: str = "") -> Offer:
    """The offering agency takes back an offer not yet decided."""
    _lock_request(offer.request_id)
    (offer,) = _lock_offers([offer.pk])
    require(by, "withdraw", offer)
    if offer.status != O.PENDING:
        raise ValidationError({"offer": f"This offer is {offer.get_status_display().lower()}."})
    _decided(offer, O.WITHDRAWN, by, reason)
    audit.record(
        actor=by,
        action="resource_offer.withdrawn",
        obj=offer,
        before={"status": O.PENDING},
        after={"status": O.WITHDRAWN, "reason": offer.reason},
    )
    return offer


# --- commitments ------------------------------------------------------------------------------


def _move(commitment: Commitment, to: str, by: User, note: str) -> None:
    """Record one step of a commitment (the caller holds the locks and checked it)."""
    before = commitment.status
    commitment.status, commitment.status_changed_at = to, timezone.now()
    commitment.save(update_fields=["status", "status_changed_at"])
    change = CommitmentChange(
        commitment=commitment,
        from_status=before,
        to_status=to,
        by=by,
        by_agency=_agency_of(by),
        note=note.strip(),
    )
    change.full_clean()
    change.save()
    audit.record(
        actor=by,
        action=f"commitment.{to}",
        obj=commitment,
        before={"status": before},
        after={"status": to, "note": change.note},
    )


@transaction.atomic
def move_commitment(
    *, commitment: Commitment, to_status: str, by: User, note: str = ""
) -> Commitment:
    """Move a commitment on: mobilised → on scene → demobilised, or cancelled before it
    reaches the scene (which frees its quantity: the request opens again if it was
    fulfilled)."""
    request = _lock_request(commitment.request_id)
    commitment = Commitment.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=commitment.pk
    )
    require(by, "progress", commitment)
    if to_status not in C.values:
        raise ValidationError({"status": "Choose a status."})
    if to_status not in TRANSITIONS[commitment.status]:
        raise ValidationError(
            {
                "status": f"A commitment that is {commitment.get_status_display().lower()} "
                f"cannot become {C(to_status).label.lower()}."
            }
        )
    _move(commitment, to_status, by, note)
    if (
        to_status == C.CANCELLED
        and request.status == R.FULFILLED
        and committed_quantity(request) < request.quantity
    ):
        request.status = R.OPEN
        request.save(update_fields=["status", "updated_at"])
    return commitment


def flag_overdue_mobilisation(*, now: datetime.datetime | None = None) -> int:
    """Tell both sides about each commitment not mobilised by the time its request needed
    it: once per commitment however often this runs (the event's key names it). Returns
    how many events were recorded."""
    now = now or timezone.now()
    overdue = (
        Commitment.objects.filter(status=C.COMMITTED, request__needed_by__lt=now)
        .exclude(request__task_force__status=TaskForce.Status.CLOSED)
        .order_by("pk")
    )
    count = 0
    for commitment in overdue.iterator(chunk_size=500):
        with transaction.atomic():
            key = f"commitment.overdue:{commitment.pk}"
            count += bool(notifications.emit("commitment.overdue", commitment, key=key))
    return count


# --- the catalogue and an agency's capabilities -----------------------------------------------------------------


def ensure_resource_kinds() -> int:
    """Create the default catalogue's kinds that are missing (the data migration's work,
    again: for a database emptied after migrating); returns how many."""
    from .catalogue import DEFAULT_RESOURCE_KINDS

    created = 0
    for order, (code, name, category, nims_type, unit, description) in enumerate(
        DEFAULT_RESOURCE_KINDS, start=1
    ):
        _, was_created = ResourceKind.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "category": category,
                "nims_type": nims_type,
                "unit": unit,
                "description": description,
                "order": order * 10,
            },
        )
        created += was_created
    return created


@transaction.atomic
def set_capability(
    *,
    agency: Agency,
    kind: ResourceKind,
    by: User,
    typical_quantity: int | None = None,
    notes: str = "",
) -> AgencyCapability:
    """Publish (or change) a kind of resource the agency can usually provide."""
    if not may_keep_capabilities(by, agency):
        raise PermissionDenied(
            f"Only {agency}'s liaison officers and administrators keep its capabilities."
        )
    if not kind.is_active:
        raise ValidationError({"kind": "This kind of resource is no longer in the catalogue."})
    if typical_quantity is not None:
        _quantity(typical_quantity, "typical_quantity")
    capability = (
        AgencyCapability.objects.select_for_update().filter(agency=agency, kind=kind).first()
    )
    before = None
    if capability is None:
        capability = AgencyCapability(agency=agency, kind=kind)
    else:
        before = {"typical_quantity": capability.typical_quantity, "notes": capability.notes}
    capability.typical_quantity, capability.notes = typical_quantity, notes.strip()
    capability.updated_by = by
    capability.full_clean()
    capability.save()
    audit.record(
        actor=by,
        action="agency_capability.set",
        obj=capability,
        before=before,
        after={"kind": kind.code, "typical_quantity": typical_quantity, "notes": capability.notes},
    )
    return capability


@transaction.atomic
def remove_capability(*, capability: AgencyCapability, by: User) -> None:
    """Take a kind of resource off the agency's published list."""
    if not may_keep_capabilities(by, capability.agency):
        raise PermissionDenied(
            f"Only {capability.agency}'s liaison officers and administrators keep its capabilities."
        )
    audit.record(
        actor=by,
        action="agency_capability.removed",
        obj=capability,
        before={"kind": capability.kind.code, "typical_quantity": capability.typical_quantity},
    )
    capability.delete()
