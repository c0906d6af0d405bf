"""Agencies, memberships and sharing agreements over the API.

Reads go through the permission core; every change calls ``agencies.services`` (which
checks who may, validates and records the audit event). Lifecycle changes are actions,
never a status field written by the client."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from agencies import services
from agencies.filtersets import AgencyFilter
from agencies.models import (
    Agency,
    AgreementAcceptance,
    Membership,
    OffboardingJob,
    SharingAgreement,
)
from coordination.api.filters import BooleanFilter, IdFilter
from coordination.api.idempotency import idempotent
from coordination.api.serializers import ReasonSerializer
from coordination.api.views import ReadOnlyResourceViewSet

from .serializers import (
    AgencyApplicationSerializer,
    AgencyChangeSerializer,
    AgencySerializer,
    AgreementCreateSerializer,
    AgreementSerializer,
    MembershipInviteSerializer,
    MembershipRoleSerializer,
    MembershipSerializer,
)

# --- agencies -----------------------------------------------------------------------------


def _transition(
    name: str, summary: str, service: Callable[..., Agency], *, reason: bool, description: str
) -> Callable[..., Response]:
    """An agency lifecycle action: ``POST /agencies/{id}/<name>/``, with a written reason
    where the move needs one."""

    def view(self: AgencyViewSet, request: Request, pk: str) -> Response:
        agency = self.get_object()
        extra = self.validated(ReasonSerializer) if reason else {}
        return self.respond(service(agency=agency, by=self.actor, **extra))

    view.__name__ = name  # DRF dispatches an action by its function's name
    routed = action(detail=True, methods=["post"], url_path=name.replace("_", "-"))(view)
    return extend_schema(
        summary=summary,
        description=description + " Portal administrators only.",
        request=ReasonSerializer if reason else None,
        responses={200: AgencySerializer},
    )(routed)


@extend_schema_view(
    list=extend_schema(summary="Agencies I may see: the directory, and my own agency"),
    retrieve=extend_schema(summary="One agency"),
    create=extend_schema(
        summary="Apply for an agency",
        description="Records an application; a portal administrator reviews it. Only portal "
        "administrators see an agency before it is active.",
        request=AgencyApplicationSerializer,
        responses={201: AgencySerializer},
    ),
    partial_update=extend_schema(
        summary="Edit an agency's details",
        description="Its agency administrators or portal administrators. The status changes "
        "only through the lifecycle actions.",
        request=AgencyChangeSerializer,
        responses={200: AgencySerializer},
    ),
)
class AgencyViewSet(ReadOnlyResourceViewSet):
    """Government bodies and partner organisations, and their lifecycle: applied → under
    review → active → suspended → offboarded (or rejected)."""

    model = Agency
    serializer_class = AgencySerializer
    filterset_class = AgencyFilter
    ordering_fields = ("name", "acronym", "status", "applied_at", "id")
    ordering = ("name", "id")

    def optimise(self, queryset: QuerySet[Agency]) -> QuerySet[Agency]:
        # offboarded is a final state: an agency has at most one offboarding job
        return queryset.prefetch_related(
            Prefetch(
                "offboarding_jobs",
                queryset=OffboardingJob.objects.order_by("-pk"),
                to_attr="latest_offboarding",
            )
        )

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(AgencyApplicationSerializer)
        agency = services.apply_for_agency(applicant=self.actor, **data)
        return self.respond(agency, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        agency = self.get_object()
        changes = self.validated(AgencyChangeSerializer)
        return self.respond(services.update_agency(agency=agency, by=self.actor, **changes))

    begin_review = _transition(
        "begin_review",
        "Begin reviewing an application",
        services.begin_review,
        reason=False,
        description="applied → under review.",
    )
    approve = _transition(
        "approve",
        "Approve an agency",
        services.approve_agency,
        reason=False,
        description="under review → active: its people can take part in task forces.",
    )
    request_changes = _transition(
        "request_changes",
        "Ask the applicant for changes",
        services.request_changes,
        reason=True,
        description="under review → applied, with the reason the applicant is told.",
    )
    reject = _transition(
        "reject",
        "Reject an application",
        services.reject_agency,
        reason=True,
        description="applied or under review → rejected.",
    )
    suspend = _transition(
        "suspend",
        "Suspend an agency",
        services.suspend_agency,
        reason=True,
        description="active → suspended: its people lose access inside task forces at once.",
    )
    reinstate = _transition(
        "reinstate",
        "Reinstate a suspended agency",
        services.reinstate_agency,
        reason=False,
        description="suspended → active: what its people were assigned applies again.",
    )
    offboard = _transition(
        "offboard",
        "Offboard an agency",
        services.offboard_agency,
        reason=True,
        description="active or suspended → offboarded: its people lose access at once. "
        "Ending every assignment of its people and withdrawing it from every task force "
        "runs in the background; the agency's `offboarding` field shows how far it has got "
        "(`state` pending → running → done, `done` of `total`).",
    )


# --- memberships --------------------------------------------------------------------------


class MembershipFilter(drf_filters.FilterSet):
    agency = IdFilter(field_name="agency", label="Agency id")
    user = IdFilter(field_name="user", label="Person id")
    role = drf_filters.ChoiceFilter(choices=Membership.Role.choices)
    is_active = BooleanFilter()

    class Meta:
        model = Membership
        fields = ("agency", "user", "role", "is_active")


@extend_schema_view(
    list=extend_schema(
        summary="Memberships I may see: my agency's people and every agency's liaison officers"
    ),
    retrieve=extend_schema(summary="One membership"),
    create=extend_schema(
        summary="Add a person to an agency",
        description="The agency's administrators (or portal administrators). The person is "
        "e-mailed a one-time link to choose their password.",
        request=MembershipInviteSerializer,
        responses={201: MembershipSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a person's agency role",
        description="E.g. name a liaison officer. The agency's administrators.",
        request=MembershipRoleSerializer,
        responses={200: MembershipSerializer},
    ),
)
class MembershipViewSet(ReadOnlyResourceViewSet):
    """People's ties to their agencies, with their agency-level roles."""

    model = Membership
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilter
    ordering_fields = ("joined_at", "role", "id")
    ordering = ("id",)

    def optimise(self, queryset: QuerySet[Membership]) -> QuerySet[Membership]:
        return queryset.select_related("user", "agency")

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(MembershipInviteSerializer)
        membership = services.invite_member(by=self.actor, request=request, **data)
        return self.respond(membership, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        data = self.validated(MembershipRoleSerializer)
        return self.respond(
            services.set_member_role(membership=membership, role=data["role"], by=self.actor)
        )

    @extend_schema(
        summary="End a person's membership",
        description="They leave the agency: every role they hold ends with it. The agency's "
        "administrators.",
        request=ReasonSerializer,
        responses={200: MembershipSerializer},
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        data = self.validated(ReasonSerializer)
        return self.respond(
            services.end_membership(membership=membership, by=self.actor, reason=data["reason"])
        )

    @extend_schema(
        summary="E-mail a person's invitation again",
        description="For a member who has not chosen a password yet (the first e-mail may "
        "not have arrived): a fresh one-time link is queued in the mail outbox. The agency's "
        "administrators (or portal administrators); audited. 400 once the person has chosen "
        "a password (they reset it from the sign-in page).",
        request=None,
        responses={202: MembershipSerializer},
    )
    @action(detail=True, methods=["post"], url_path="resend-invitation")
    def resend_invitation(self, request: Request, pk: str) -> Response:
        membership = self.get_object()
        return self.respond(
            services.resend_invitation(membership=membership, by=self.actor, request=request),
            status.HTTP_202_ACCEPTED,
        )


# --- sharing agreements -------------------------------------------------------------------


class AgreementFilter(drf_filters.FilterSet):
    party = IdFilter(field_name="parties", label="Id of an agency that is a party")
    task_force = IdFilter(field_name="task_force", label="Task force id")
    status = drf_filters.ChoiceFilter(choices=SharingAgreement.Status.choices)

    class Meta:
        model = SharingAgreement
        fields = ("party", "task_force", "status")


@extend_schema_view(
    list=extend_schema(summary="Sharing agreements my agency is a party to"),
    retrieve=extend_schema(summary="One sharing agreement"),
    create=extend_schema(
        summary="Propose a sharing agreement",
        description="An administrator or liaison officer of an active agency proposes an "
        "agreement between their own agency and others; it comes into force once an "
        "administrator or liaison officer of every other party has accepted it.",
        request=AgreementCreateSerializer,
        responses={201: AgreementSerializer},
    ),
)
class AgreementViewSet(ReadOnlyResourceViewSet):
    """What agencies agreed to share with one another, up to which marking, for how long."""

    model = SharingAgreement
    serializer_class = AgreementSerializer
    filterset_class = AgreementFilter
    ordering_fields = ("valid_from", "valid_until", "title", "created_at", "id")
    ordering = ("-valid_from", "title", "id")

    def optimise(self, queryset: QuerySet[SharingAgreement]) -> QuerySet[SharingAgreement]:
        return queryset.select_related("proposed_by_agency").prefetch_related(
            "parties",
            Prefetch("acceptances", queryset=AgreementAcceptance.objects.select_related("agency")),
        )

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(AgreementCreateSerializer)
        agreement = services.propose_agreement(by=self.actor, **data)
        return self.respond(agreement, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Accept a proposed agreement for your agency",
        description="An administrator or liaison officer of a party that has not accepted "
        "yet. With the last party's acceptance the agreement comes into force.",
        request=None,
        responses={200: AgreementSerializer},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        agreement = self.get_object()
        return self.respond(services.accept_agreement(agreement=agreement, by=self.actor))

    @extend_schema(
        summary="Terminate an agreement (or decline a proposal)",
        description="Any party's administrator or liaison officer, with a reason the other "
        "parties are told. It stops covering anything at once.",
        request=ReasonSerializer,
        responses={200: AgreementSerializer},
    )
    @action(detail=True, methods=["post"])
    def terminate(self, request: Request, pk: str) -> Response:
        agreement = self.get_object()
        data = self.validated(ReasonSerializer)
        return self.respond(
            services.terminate_agreement(agreement=agreement, by=self.actor, reason=data["reason"])
        )
