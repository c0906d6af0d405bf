"""What the API shows of agencies, memberships and agreements, and what it accepts.

Output serializers are read-only; input serializers only validate, and the views hand
their ``validated_data`` to ``agencies.services``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.models import (
    Agency,
    AgreementAcceptance,
    Membership,
    OffboardingJob,
    SharingAgreement,
)
from coordination.api.fields import Choice, Day, Email, Text, Url
from coordination.api.representation import ReadSerializer
from coordination.api.serializers import PersonSerializer, VisibleRelatedField
from coordination.permissions.markings import Marking


class AgencyRefSerializer(ReadSerializer):
    """An agency, as named on the objects tied to it."""

    class Meta:
        model = Agency
        fields = ("id", "name", "acronym")
        read_only_fields = fields


class OffboardingJobSerializer(serializers.ModelSerializer):
    """How far the background part of an agency's offboarding has got."""

    class Meta:
        model = OffboardingJob
        fields = ("state", "total", "done", "error", "created_at", "started_at", "finished_at")
        read_only_fields = fields


class AgencySerializer(ReadSerializer):
    """An agency and where it stands in its lifecycle."""

    website = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    offboarding = serializers.SerializerMethodField(
        help_text="For an offboarded agency: how far ending its assignments and "
        "participations in the background has got (null otherwise)."
    )

    @extend_schema_field(OffboardingJobSerializer(allow_null=True))
    def get_offboarding(self, agency: Agency) -> dict[str, Any] | None:
        jobs = getattr(agency, "latest_offboarding", None)
        if jobs is None:  # not prefetched (an object outside a list)
            jobs = list(agency.offboarding_jobs.order_by("-pk")[:1])
        return OffboardingJobSerializer(jobs[0]).data if jobs else None

    class Meta:
        model = Agency
        fields = (
            "id",
            "name",
            "acronym",
            "level",
            "sector",
            "jurisdiction",
            "contact_email",
            "website",
            "status",
            "status_reason",
            "status_changed_at",
            "applied_at",
            "offboarding",
        )
        read_only_fields = fields


class AgencyApplicationSerializer(serializers.Serializer):
    """An agency's application (a portal administrator reviews it)."""

    name = Text(max_length=200)
    acronym = Text(max_length=20, required=False, allow_blank=True, default="")
    level = Choice(choices=Agency.Level.choices)
    sector = Choice(choices=Agency.Sector.choices)
    jurisdiction = Text(max_length=200, required=False, allow_blank=True, default="")
    contact_email = Email(max_length=254)
    website = Url(max_length=200, required=False, allow_blank=True, default="")


class AgencyChangeSerializer(serializers.Serializer):
    """An agency's details (its status changes only through the lifecycle actions)."""

    name = Text(max_length=200, required=False)
    acronym = Text(max_length=20, required=False, allow_blank=True)
    level = Choice(choices=Agency.Level.choices, required=False)
    sector = Choice(choices=Agency.Sector.choices, required=False)
    jurisdiction = Text(max_length=200, required=False, allow_blank=True)
    contact_email = Email(max_length=254, required=False)
    website = Url(max_length=200, required=False, allow_blank=True)


class MembershipSerializer(ReadSerializer):
    """A person's tie to their agency, with their agency-level role."""

    user = PersonSerializer(read_only=True)
    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "user", "agency", "role", "is_active", "joined_at", "ended_at")
        read_only_fields = fields


class MembershipInviteSerializer(serializers.Serializer):
    """A new person for an agency; they are e-mailed a link to choose their password."""

    agency = VisibleRelatedField(Agency)
    email = Email(max_length=254)
    first_name = Text(max_length=150)
    last_name = Text(max_length=150)
    role = Choice(choices=Membership.Role.choices, required=False, default=Membership.Role.STAFF)
    job_title = Text(max_length=150, required=False, allow_blank=True, default="")


class MembershipRoleSerializer(serializers.Serializer):
    """A person's agency-level role (e.g. to name a liaison officer)."""

    role = Choice(choices=Membership.Role.choices)


class AcceptanceSerializer(ReadSerializer):
    """One party's acceptance of an agreement."""

    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = AgreementAcceptance
        fields = ("agency", "accepted_at")
        read_only_fields = fields


class AgreementSerializer(ReadSerializer):
    """An information-sharing agreement between agencies: proposed by one party, in force
    once every party has accepted it, terminated by any party."""

    parties = AgencyRefSerializer(many=True, read_only=True)
    proposed_by_agency = AgencyRefSerializer(read_only=True, allow_null=True)
    acceptances = AcceptanceSerializer(many=True, read_only=True)
    task_force: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = SharingAgreement
        fields = (
            "id",
            "title",
            "parties",
            "proposed_by_agency",
            "acceptances",
            "task_force",
            "max_marking",
            "valid_from",
            "valid_until",
            "status",
            "created_at",
            "in_force_at",
            "terminated_at",
            "termination_reason",
        )
        read_only_fields = fields


class AgreementCreateSerializer(serializers.Serializer):
    """A proposal from your own agency (a party) to one or more others. It comes into force
    when every other party has accepted it; nothing brings it into force alone."""

    title = Text(max_length=200)
    parties = VisibleRelatedField(Agency, many=True)
    max_marking = Choice(choices=Marking.choices)
    valid_from = Day()
    valid_until = Day(required=False, allow_null=True, default=None)
    task_force = VisibleRelatedField(
        "taskforces.TaskForce", required=False, allow_null=True, default=None
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict) and "activate" in self.initial_data:
            raise serializers.ValidationError(
                {
                    "activate": [
                        "An agreement comes into force when every party has accepted it; "
                        "no party can bring it into force alone."
                    ]
                }
            )
        return attrs
