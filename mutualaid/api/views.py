"""Mutual aid over the API: every step of a request is an action (raise, offer, accept,
decline, withdraw, mobilise, on-scene, demobilise, cancel), each calling the service the
pages call. Reads go through the permission core."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.selectors import membership_of
from coordination.api.filters import IdFilter
from coordination.api.idempotency import idempotent
from coordination.api.serializers import OptionalReasonSerializer, ReasonSerializer
from coordination.api.views import ReadOnlyResourceViewSet
from coordination.permissions import PermissionDenied

from .. import selectors, services
from ..models import (
    AgencyCapability,
    Commitment,
    CommitmentChange,
    Offer,
    ResourceKind,
    ResourceRequest,
)
from .serializers import (
    AcceptSerializer,
    AgencyCapabilityInputSerializer,
    AgencyCapabilitySerializer,
    CommitmentSerializer,
    NoteSerializer,
    OfferCreateSerializer,
    OfferSerializer,
    ResourceKindSerializer,
    ResourceRequestCreateSerializer,
    ResourceRequestSerializer,
)

C = Commitment.Status


def _answer(
    view: ReadOnlyResourceViewSet, serializer_class: Any, queryset: Any, pk: int, code: int
) -> Response:
    """The object as its own resource shows it, re-read through the permission core."""
    obj = queryset.get(pk=pk)
    return Response(serializer_class(obj, context=view.get_serializer_context()).data, status=code)


# --- the catalogue and capabilities ---------------------------------------------------------


class ResourceKindFilter(drf_filters.FilterSet):
    category = drf_filters.ChoiceFilter(choices=ResourceKind.Category.choices)

    class Meta:
        model = ResourceKind
        fields = ("category",)


@extend_schema_view(
    list=extend_schema(summary="The resource catalogue (NIMS-style kinds)"),
    retrieve=extend_schema(summary="One kind of resource"),
)
class ResourceKindViewSet(ReadOnlyResourceViewSet):
    """The typed catalogue requests, offers and capabilities choose from."""

    model = ResourceKind
    serializer_class = ResourceKindSerializer
    filterset_class = ResourceKindFilter
    ordering_fields = ("name", "category", "id")
    ordering = ("category", "order", "name")


class AgencyCapabilityFilter(drf_filters.FilterSet):
    agency = IdFilter(field_name="agency", label="Agency id")
    kind = IdFilter(field_name="kind", label="Resource kind id")

    class Meta:
        model = AgencyCapability
        fields = ("agency", "kind")


@extend_schema_view(
    list=extend_schema(summary="What active agencies say they can usually provide"),
    retrieve=extend_schema(summary="One published capability"),
    create=extend_schema(
        summary="Publish a capability for my agency",
        description="Liaison officers and administrators of an active agency; publishing "
        "the same kind again changes it.",
        request=AgencyCapabilityInputSerializer,
        responses={201: AgencyCapabilitySerializer},
    ),
)
class AgencyCapabilityViewSet(ReadOnlyResourceViewSet):
    """Agencies' inventories: the kinds of resource each can usually provide."""

    model = AgencyCapability
    serializer_class = AgencyCapabilitySerializer
    filterset_class = AgencyCapabilityFilter
    ordering_fields = ("updated_at", "id")
    ordering = ("id",)

    def optimise(self, queryset: QuerySet[AgencyCapability]) -> QuerySet[AgencyCapability]:
        return queryset.select_related("agency", "kind")

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(AgencyCapabilityInputSerializer)
        membership = membership_of(self.actor)
        if membership is None:
            raise PermissionDenied("You do not belong to an agency.")
        return self.respond(
            services.set_capability(agency=membership.agency, by=self.actor, **data),
            status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Remove a published capability",
        description="Its agency's liaison officers and administrators. Answers with what "
        "was removed.",
        request=None,
        responses={200: AgencyCapabilitySerializer},
    )
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str) -> Response:
        capability = self.get_object()
        removed = AgencyCapabilitySerializer(capability, context=self.get_serializer_context()).data
        services.remove_capability(capability=capability, by=self.actor)
        return Response(removed)


# --- requests -------------------------------------------------------------------------------


class ResourceRequestFilter(drf_filters.FilterSet):
    task_force = IdFilter(field_name="task_force", label="Task force id")
    status = drf_filters.ChoiceFilter(choices=ResourceRequest.Status.choices)
    priority = drf_filters.TypedChoiceFilter(choices=ResourceRequest.Priority.choices, coerce=int)

    class Meta:
        model = ResourceRequest
        fields = ("task_force", "status", "priority")


@extend_schema_view(
    list=extend_schema(summary="Resource requests I may see (raised by or addressed to my agency)"),
    retrieve=extend_schema(summary="One resource request"),
    create=extend_schema(
        summary="Raise a resource request (ICS 213RR)",
        description="Holders of a role with the “request resources” capability, for their "
        "agency. Addressed to the named participating agencies, or to all of them.",
        request=ResourceRequestCreateSerializer,
        responses={201: ResourceRequestSerializer},
    ),
)
class ResourceRequestViewSet(ReadOnlyResourceViewSet):
    """Requests for resources between agencies. An agency that is not addressed sees
    nothing of a request; TLP markings apply as to every item in a task force."""

    model = ResourceRequest
    # every request reads the asker's access inside task forces (taskforces.api.authentication)
    reads_task_force_access = True
    serializer_class = ResourceRequestSerializer
    filterset_class = ResourceRequestFilter
    ordering_fields = ("number", "needed_by", "priority", "created_at", "id")
    ordering = ("-created_at", "-id")

    def visible(self) -> QuerySet[ResourceRequest]:
        return selectors.with_counts(ResourceRequest.objects.restrict(self.request.user, "view"))

    def optimise(self, queryset: QuerySet[ResourceRequest]) -> QuerySet[ResourceRequest]:
        return queryset.select_related(
            "task_force", "requesting_agency", "requested_by", "kind"
        ).prefetch_related("addressed_agencies")

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(ResourceRequestCreateSerializer)
        return self.respond(services.raise_request(by=self.actor, **data), status.HTTP_201_CREATED)

    @extend_schema(
        summary="Offer resources against a request",
        description="Liaison officers of an addressed agency (not the requesting one), while "
        "the request is open.",
        request=OfferCreateSerializer,
        responses={201: OfferSerializer},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def offer(self, request: Request, pk: str) -> Response:
        rr = self.get_object()
        data = self.validated(OfferCreateSerializer)
        offer = services.make_offer(request=rr, by=self.actor, **data)
        return _answer(
            self, OfferSerializer, _offers(self.actor), offer.pk, status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Cancel a request",
        description="The requesting agency's holders of “request resources” or “approve "
        "resources”. Pending offers are declined and commitments not yet mobilised are "
        "cancelled; mobilised resources stay to be demobilised.",
        request=ReasonSerializer,
        responses={200: ResourceRequestSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        rr = self.get_object()
        data = self.validated(ReasonSerializer)
        return self.respond(services.cancel_request(request=rr, by=self.actor, **data))


# --- offers ---------------------------------------------------------------------------------


def _offers(user: Any) -> QuerySet[Offer]:
    return Offer.objects.restrict(user, "view").select_related("agency", "offered_by", "decided_by")


def _commitments(user: Any) -> QuerySet[Commitment]:
    return (
        Commitment.objects.restrict(user, "view")
        .select_related("agency")
        .prefetch_related(
            Prefetch(
                "changes",
                queryset=CommitmentChange.objects.select_related("by", "by_agency").order_by(
                    "at", "id"
                ),
            )
        )
    )


class OfferFilter(drf_filters.FilterSet):
    request = IdFilter(field_name="request", label="Resource request id")
    agency = IdFilter(field_name="agency", label="Offering agency id")
    status = drf_filters.ChoiceFilter(choices=Offer.Status.choices)

    class Meta:
        model = Offer
        fields = ("request", "agency", "status")


@extend_schema_view(
    list=extend_schema(summary="Offers I may see (made by or to my agency)"),
    retrieve=extend_schema(summary="One offer"),
)
class OfferViewSet(ReadOnlyResourceViewSet):
    """Offers against requests: seen by the offering and the requesting agency only."""

    model = Offer
    # every request reads the asker's access inside task forces (taskforces.api.authentication)
    reads_task_force_access = True
    serializer_class = OfferSerializer
    filterset_class = OfferFilter
    ordering_fields = ("created_at", "id")
    ordering = ("id",)

    def optimise(self, queryset: QuerySet[Offer]) -> QuerySet[Offer]:
        return queryset.select_related("agency", "offered_by", "decided_by")

    @extend_schema(
        summary="Accept an offer (all of it, or part of it)",
        description="The requesting agency's holders of “approve resources”. Never beyond "
        "what the request still needs; the offer becomes a commitment.",
        request=AcceptSerializer,
        responses={201: CommitmentSerializer},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def accept(self, request: Request, pk: str) -> Response:
        offer = self.get_object()
        data = self.validated(AcceptSerializer)
        commitment = services.accept_offer(offer=offer, by=self.actor, **data)
        return _answer(
            self,
            CommitmentSerializer,
            _commitments(self.actor),
            commitment.pk,
            status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Decline an offer",
        description="The requesting agency's holders of “approve resources”, with a reason "
        "the offering agency is told.",
        request=ReasonSerializer,
        responses={200: OfferSerializer},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        offer = self.get_object()
        data = self.validated(ReasonSerializer)
        return self.respond(services.decline_offer(offer=offer, by=self.actor, **data))

    @extend_schema(
        summary="Withdraw my agency's offer",
        description="Liaison officers of the offering agency, while it is pending.",
        request=OptionalReasonSerializer,
        responses={200: OfferSerializer},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        offer = self.get_object()
        data = self.validated(OptionalReasonSerializer)
        return self.respond(services.withdraw_offer(offer=offer, by=self.actor, **data))


# --- commitments ----------------------------------------------------------------------------


class CommitmentFilter(drf_filters.FilterSet):
    request = IdFilter(field_name="request", label="Resource request id")
    agency = IdFilter(field_name="agency", label="Committed agency id")
    status = drf_filters.ChoiceFilter(choices=Commitment.Status.choices)

    class Meta:
        model = Commitment
        fields = ("request", "agency", "status")


def _step(name: str, to_status: str, summary: str) -> Any:
    @extend_schema(
        summary=summary,
        description="Liaison officers of the committed agency, or the requesting agency's "
        "holders of “approve resources”. committed → mobilised → on scene → demobilised; "
        "cancelled from committed or mobilised.",
        request=NoteSerializer,
        responses={200: CommitmentSerializer},
    )
    def step(self: CommitmentViewSet, request: Request, pk: str) -> Response:
        commitment = self.get_object()
        data = self.validated(NoteSerializer)
        return self.respond(
            services.move_commitment(
                commitment=commitment, to_status=to_status, by=self.actor, note=data["note"]
            )
        )

    step.__name__ = name
    return step


@extend_schema_view(
    list=extend_schema(summary="Commitments I may see (of or to my agency)"),
    retrieve=extend_schema(summary="One commitment, with its history"),
)
class CommitmentViewSet(ReadOnlyResourceViewSet):
    """Accepted offers, tracked from mobilisation to demobilisation."""

    model = Commitment
    # every request reads the asker's access inside task forces (taskforces.api.authentication)
    reads_task_force_access = True
    serializer_class = CommitmentSerializer
    filterset_class = CommitmentFilter
    ordering_fields = ("created_at", "status_changed_at", "id")
    ordering = ("id",)

    def optimise(self, queryset: QuerySet[Commitment]) -> QuerySet[Commitment]:
        return queryset.select_related("agency").prefetch_related(
            Prefetch(
                "changes",
                queryset=CommitmentChange.objects.select_related("by", "by_agency").order_by(
                    "at", "id"
                ),
            )
        )

    mobilise = action(detail=True, methods=["post"])(
        _step("mobilise", C.MOBILISED, "Mark mobilised")
    )
    on_scene = action(detail=True, methods=["post"], url_path="on-scene")(
        _step("on_scene", C.ON_SCENE, "Mark on scene")
    )
    demobilise = action(detail=True, methods=["post"])(
        _step("demobilise", C.DEMOBILISED, "Mark demobilised")
    )
    cancel = action(detail=True, methods=["post"])(
        _step("cancel", C.CANCELLED, "Cancel a commitment")
    )
