"""Reads the mutual aid pages, exports, reports and API share, always through the
permission core, each in a fixed number of queries however long the list."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from agencies.models import Agency
from taskforces.models import Participation, TaskForce

from .models import AgencyCapability, Commitment, CommitmentChange, Offer, ResourceRequest


def with_counts(queryset: QuerySet[ResourceRequest]) -> QuerySet[ResourceRequest]:
    """Annotate each request with the quantity committed (cancelled commitments free
    theirs) and the number of pending offers, as correlated subqueries (no row
    multiplication, whatever the filters joined)."""
    committed = (
        Commitment.objects.filter(request=OuterRef("pk"))
        .exclude(status=Commitment.Status.CANCELLED)
        .order_by()
        .values("request")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    pending = (
        Offer.objects.filter(request=OuterRef("pk"), status=Offer.Status.PENDING)
        .order_by()
        .values("request")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        committed_total=Coalesce(Subquery(committed, output_field=IntegerField()), 0),
        pending_offers=Coalesce(Subquery(pending, output_field=IntegerField()), 0),
    )


def visible_requests(user: Any, task_force: TaskForce | None = None) -> QuerySet[ResourceRequest]:
    """The requests the person may see (in one task force, when given), with their
    counts and what every list shows."""
    queryset = ResourceRequest.objects.restrict(user, "view")
    if task_force is not None:
        queryset = queryset.filter(task_force=task_force)
    return with_counts(queryset).select_related(
        "task_force", "requesting_agency", "kind", "requested_by"
    )


def visible_offers(user: Any, request: ResourceRequest) -> QuerySet[Offer]:
    return (
        Offer.objects.restrict(user, "view")
        .filter(request=request)
        .select_related("agency", "offered_by", "decided_by")
        .order_by("id")
    )


def visible_commitments(user: Any, request: ResourceRequest) -> QuerySet[Commitment]:
    return (
        Commitment.objects.restrict(user, "view")
        .filter(request=request)
        .select_related("agency", "offer")
        .prefetch_related(
            Prefetch(
                "changes",
                queryset=CommitmentChange.objects.select_related("by", "by_agency").order_by(
                    "at", "id"
                ),
            )
        )
        .order_by("id")
    )


def providers(task_force: TaskForce, kind_id: int | None = None) -> QuerySet[AgencyCapability]:
    """What the task force's participating agencies say they can usually provide (of one
    kind, when given): whom to ask."""
    agencies = Agency.objects.filter(
        status=Agency.Status.ACTIVE,
        participations__task_force=task_force,
        participations__status=Participation.Status.ACCEPTED,
    ).values("pk")
    queryset = AgencyCapability.objects.filter(agency_id__in=agencies).select_related(
        "agency", "kind"
    )
    if kind_id is not None:
        queryset = queryset.filter(kind_id=kind_id)
    return queryset.order_by("kind__category", "kind__name", "agency__name")


def addressed_names(request: ResourceRequest) -> str:
    if request.addressed_to_all:
        return "Every agency taking part"
    return ", ".join(a.name for a in request.addressed_agencies.all()) or "—"


def status_filter(queryset: QuerySet[ResourceRequest], data: dict[str, Any]) -> QuerySet[Any]:
    condition = Q()
    if data.get("status"):
        condition &= Q(status=data["status"])
    if data.get("priority"):
        condition &= Q(priority=data["priority"])
    return queryset.filter(condition)
